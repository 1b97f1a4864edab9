if size :over 0K { if size :under 1G { keep; } }
