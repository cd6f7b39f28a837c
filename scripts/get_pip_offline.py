"""Offline stand-in for the get-pip bootstrap script that ansible-test downloads.

ansible-test creates its sanity virtualenvs without pip and downloads a get-pip
script from a host that is unreachable here. It caches that script as
~/.ansible/test/cache/get_pip_<X_Y>.py and runs it with get-pip's own options
followed by the packages to install (pip==X.Y...). This replacement installs pip
from the interpreter's bundled ensurepip wheel, then lets that pip install the
requested packages from the package index the machine can reach.
"""
import subprocess
import sys

# get-pip understands these; pip install does not.
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}


def main():
    args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
    # In a child process: ensurepip points PIP_CONFIG_FILE at /dev/null in its own
    # environment, which would hide the machine's pip configuration (index, CA).
    rc = subprocess.call([sys.executable, "-m", "ensurepip", "--upgrade"])
    if rc:
        return rc
    return subprocess.call([sys.executable, "-m", "pip", "install"] + args)


if __name__ == "__main__":
    sys.exit(main())
