require ["vacation", "variables"];
if address :matches "from" "*@*" { set "u" "${1}"; }
vacation :handle "h-${u}" :from "bob@example.com" "Dear ${u}, I am out.";
