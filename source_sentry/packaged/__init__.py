"""The speed wing: the packaged connector (pip, Docker image) runs the same manifest about five
times faster by reaching into the CDK. Everything that does so lives here; `door.py` hands it out
only on the versions it was tested on, else the command runs the plain `SourceSentry`."""
