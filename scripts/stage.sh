#!/usr/bin/env bash
# stage.sh NAME CMD... : run one stage of the pipeline and print its duration.
. "$(dirname "$0")/lib.sh"
mkdir -p "$REPO_ROOT/.tmp"
stage "$@"
