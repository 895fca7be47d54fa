"""Reading figures from files into the store: parsing, the parse worker, the importer."""
