require "vacation";
if exists "cc" { vacation :days 0 "zero"; } else { vacation :days 400 "many"; }
