"""Service-record generators, one module per programme of the national service specification."""
