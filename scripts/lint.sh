#!/usr/bin/env bash
# Lint the whole tree: yamllint, ansible-lint (production profile), changelog fragments, the
# role READMEs' variable tables against meta/argument_specs.yml (scripts/role-docs.py), and
# and docs/reliability.md's form (scripts/reliability-doc.py --check).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
n_yaml=$(git ls-files --cached --others --exclude-standard '*.yml' '*.yaml' | grep -vc '/templates/' || true)
yamllint --strict .
echo "yamllint: $n_yaml YAML files, 0 problems"
ansible-lint --offline --profile production 2>&1 | tee .tmp/ansible-lint.log
antsibull-changelog lint
echo "antsibull-changelog: $(ls changelogs/fragments | wc -l) fragments valid"
# The tables are generated: a stale one fails lint and names the command that rewrites it.
python scripts/role-docs.py --check
# docs/reliability.md is rendered from .tmp/reliability/results.json (make reliability-doc). Lint
# checks the committed document only (it renders back to itself, every row passed): results.json of
# a later run here has another date and other ports, and would make every second make test fail.
python scripts/reliability-doc.py --check
