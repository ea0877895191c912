"""Files → text → parts → chunks → the index: loaders by suffix, cleaning, structure, chunking, and the
incremental, crash-safe pipeline that writes them (see `pipeline`)."""
