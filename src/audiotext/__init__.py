"""AudioText: a self-hosted, Kubernetes-native speech-to-text service built on Whisper."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("audiotext")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"
