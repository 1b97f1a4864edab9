if foo "bar" { keep; }
