require ["fileinto", "x-unknown"];
