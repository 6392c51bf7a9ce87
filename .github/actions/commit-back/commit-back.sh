#!/usr/bin/env bash
# Commit the files kiln writes back and push them to $BRANCH, rebased on its tip. A conflict
# (someone changed the same stack file meanwhile) fails the job: nothing is forced.
set -euo pipefail
paths=()
for path in stacks releases ledger; do
    [[ -e "$path" ]] && paths+=("$path")
done
git add --all -- "${paths[@]}"
if git diff --cached --quiet; then
    echo "nothing to commit"
    exit 0
fi
git -c user.name="kiln-ci" -c user.email="kiln-ci@users.noreply.github.com" \
    commit --quiet -m "${MESSAGE} [skip ci]"
remote="https://x-access-token:${TOKEN}@github.com/${GITHUB_REPOSITORY}.git"
git pull --quiet --rebase "$remote" "$BRANCH"
git push --quiet "$remote" "HEAD:refs/heads/${BRANCH}"
