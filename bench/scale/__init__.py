"""Writers that grow a database to the sizes the scale benches and checks need."""
