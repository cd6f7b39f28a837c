#!/usr/bin/env bash
# pytest.sh NAME PATH... : run pytest with the collection importable as
# ansible_collections.k3s_gpu.node and print the counts.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
name=$1; shift
cd "$REPO_ROOT"
export PYTHONPATH="$REPO_ROOT/.build/collections${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p .tmp
set +e
python -m pytest -p no:cacheprovider -rfEs --junitxml=".tmp/junit-$name.xml" "$@"
rc=$?
set -e
python - ".tmp/junit-$name.xml" "$name" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == 'testsuite' else list(root)
t = {k: sum(int(s.get(k, 0)) for s in suites) for k in ('tests', 'failures', 'errors', 'skipped')}
print(f"{sys.argv[2]}: {t['tests']} tests, {t['tests'] - t['failures'] - t['errors'] - t['skipped']} passed, "
      f"{t['failures']} failed, {t['errors']} errors, {t['skipped']} skipped")
PY
exit $rc
