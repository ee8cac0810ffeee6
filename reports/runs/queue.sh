#!/bin/bash
# name | mutate | tests
cd /work/wt-mutate
run() {
  local name=$1 mutate=$2 tests=$3
  [ -f reports/runs/$name.done ] && return
  echo "$(date +%T) start $name" >> reports/runs/queue.log
  MUTATION_TESTS="$tests" timeout 2400 npx stryker run --mutate "$mutate" --incrementalFile reports/runs/$name.json > reports/runs/$name.log 2>&1
  echo "$(date +%T) end $name rc=$?" >> reports/runs/queue.log
  touch reports/runs/$name.done
}
while pgrep -f "access-chain.json" >/dev/null; do sleep 10; done
[ -f reports/runs/access-rest.json ] || cp reports/runs/access-chain.json reports/runs/access-rest.json
run access-rest "src/domain/access/chain-check.ts,src/domain/access/subject.ts,src/domain/access/access.ts,src/domain/access/authorizer.ts,src/domain/access/disclosure.ts,src/domain/access/resolved.ts,src/domain/access/import-access.ts" "test/access/*.test.ts,test/rpc/authorization-rules.test.ts,test/domain/**/*.test.ts"
run watch-visibility "src/domain/watch-visibility.ts" "test/domain/watch-visibility.test.ts,test/watch/visibility.test.ts,test/domain/sync.test.ts"
run policy-rules "src/domain/policy-rules.ts" "test/domain/**/*.test.ts"
run shared-policies "src/domain/shared-policies.ts" "test/domain/shared-policies.test.ts,test/security/shared-policies.test.ts,test/security/shared-policy-access.test.ts,test/access/lookups-shared.test.ts"
run conditions "src/domain/conditions.ts" "test/domain/conditions.test.ts,test/domain/regex.test.ts,test/access/conditions.test.ts"
run lookups "src/domain/access/lookups.ts,src/domain/access/lookup-denials.ts,src/domain/access/who-can.ts" "test/access/lookups*.test.ts,test/access/explanations.test.ts"
