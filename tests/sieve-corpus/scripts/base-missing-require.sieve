fileinto "Foo";
