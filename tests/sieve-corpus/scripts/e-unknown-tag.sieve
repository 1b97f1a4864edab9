keep :bogus;
