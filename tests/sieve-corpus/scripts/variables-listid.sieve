require ["variables", "fileinto"];
if header :matches "list-id" "*<*.lists.example.org>" { fileinto "Lists/${2}"; }
