"""The Job pod's entry point: read the environment, run the pipeline, exit with a code."""
