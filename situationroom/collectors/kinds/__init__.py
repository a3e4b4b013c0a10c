"""Built-in collector kinds, one module each; every module registers its kind on import."""
