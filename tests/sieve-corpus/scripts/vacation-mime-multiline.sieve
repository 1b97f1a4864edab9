require "vacation";
if not exists "list-id" {
vacation :days 14 :mime text:
Content-Type: text/plain; charset=utf-8

I am away.
.
;
}
