"""The speed wing: the packaged connector (pip, Docker image) runs the same manifest faster (by how
much: docs/benchmarks.md) by reaching into the CDK. Everything that does so lives here; `door.py` hands it out
only on the versions it was tested on, else the command runs the plain `SourceSentry`."""
