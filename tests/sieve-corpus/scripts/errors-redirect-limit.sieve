redirect "a1@example.com";
redirect "a2@example.com";
redirect "a3@example.com";
redirect "a4@example.com";
redirect "a5@example.com";
