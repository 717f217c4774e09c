#!/usr/bin/env bash
# Database day-2 operations on a deployed stack, through kubectl: take a backup now, list the backups,
# or restore one. The stack's Pulumi.<stack>.yaml names the namespace and the cluster (kubernetes:kubeconfig
# or kubernetes:context; without either, the local cluster of scripts/cluster.sh).
#
# Usage: scripts/db.sh backup --stack NAME
#        scripts/db.sh restore --stack NAME [--backup FILE] [--yes]
#        npm run db:backup -- --stack NAME
#        npm run db:restore -- --stack NAME [--backup FILE] [--yes]
#
#   backup          run the backup CronJob's Job now, wait for it, and print the new file's name.
#   restore         without --backup: list the stack's backups, newest first; nothing changes.
#                   with --backup: take a fresh backup first, scale the API to 0, pg_restore --clean the
#                   file into the database in one transaction, rerun the migration and roles Jobs, and
#                   scale the API back to its replica count.
#   --stack NAME    the stack (dev, prod, ...).
#   --backup FILE   a file name as the list shows it, e.g. prod-20261127T023000Z.dump.
#   --yes           required to restore into a production stack (prod, or any stack with protect: true).
#   -h, --help      this text.
#
# Refused with exit code 2 and nothing changed: a backup that does not exist (the list of those that do is
# printed), a restore while a backup Job runs, a restore into production without --yes, and a stack whose
# backups are off (backupEnabled: false).
set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Names the program gives these objects and files (components/postgres-backup.ts; test/scripts/db.test.ts
# keeps the two equal).
BACKUP_CRONJOB="postgres-backup"
BACKUP_FILE_PATTERN='^[a-z0-9][a-z0-9-]*-[0-9]{8}T[0-9]{6}Z\.dump$'
API_DEPLOYMENT="api"

command=""
stack=""
backup=""
yes=false
[ $# -gt 0 ] || usage_error "missing command: backup or restore"
case "$1" in
  -h | --help) usage; exit 0 ;;
  backup | restore) command="$1"; shift ;;
  -*) usage_error "unknown option '$1'" ;;
  *) usage_error "unknown command '$1'; allowed: backup, restore" ;;
esac
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --stack)
      [ $# -ge 2 ] || usage_error "--stack needs a stack name, such as dev or prod"
      stack="$2"; shift ;;
    --stack=*) stack="${1#--stack=}" ;;
    --backup)
      [ $# -ge 2 ] || usage_error "--backup needs a backup file name, such as prod-20261127T023000Z.dump"
      backup="$2"; shift ;;
    --backup=*) backup="${1#--backup=}" ;;
    --yes) yes=true ;;
    *) usage_error "unknown option '$1'" ;;
  esac
  shift
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -n "$stack" ] || usage_error "--stack is required: the stack whose database to $command (dev, prod, ...)"
[[ "$stack" =~ ^[a-z0-9][a-z0-9-]*$ ]] || usage_error "--stack must be a stack name such as dev or prod, got '$stack'"
stack_file="$ROOT/Pulumi.$stack.yaml"
[ -f "$stack_file" ] || usage_error "--stack $stack: no Pulumi.$stack.yaml; the stacks of this project are $(cd "$ROOT" && ls Pulumi.*.yaml | sed -n 's/^Pulumi\.\(.*\)\.yaml$/\1/p' | tr '\n' ' ')"
if [ "$command" = backup ]; then
  [ -z "$backup" ] || usage_error "--backup is for restore; backup names its file itself"
  ! $yes || usage_error "--yes is for restore; a backup changes no data"
fi
if [ -n "$backup" ] && ! [[ "$backup" =~ $BACKUP_FILE_PATTERN ]]; then
  usage_error "--backup '$backup' is not a backup file name; allowed: <stack>-<YYYYMMDD>T<HHMMSS>Z.dump as the list shows it (run without --backup to list them)"
fi

# A stack's config value, from its stack file (the YAML key on one line, as Pulumi writes it).
stack_value() { sed -n "s/^\s*$1:\s*//p" "$stack_file" | tr -d "\"'" | head -n 1; }

production=false
if [ "$stack" = prod ] || [ "$(stack_value api-stack:protect)" = true ]; then production=true; fi
if [ -n "$backup" ] && $production && ! $yes; then
  die "refusing to restore into $stack without --yes: a restore replaces the database's data (a fresh backup is taken first)" \
    "run again with --yes: npm run db:restore -- --stack $stack --backup $backup --yes" 2
fi

# shellcheck source=scripts/env.sh
. "$ROOT/scripts/env.sh"
namespace="$(stack_value api-stack:namespace)"
[ -n "$namespace" ] || namespace="$(sed -n '/^  namespace:/,/default:/s/^\s*default:\s*//p' "$ROOT/Pulumi.yaml" | tr -d "\"'")"
cluster_args=(--kubeconfig "$API_STACK_KUBECONFIG")
if [ -n "$(stack_value kubernetes:kubeconfig)" ]; then
  kubeconfig="$(stack_value kubernetes:kubeconfig)"
  cluster_args=(--kubeconfig "${kubeconfig/#\~/$HOME}")
elif [ -n "$(stack_value kubernetes:context)" ]; then
  cluster_args=(--context "$(stack_value kubernetes:context)")
fi
k() { "$(kubectl_bin)" "${cluster_args[@]}" --namespace "$namespace" "$@"; }

# A Job from the backup CronJob's template (the same restricted pod, volume, credentials and network
# policy), running SCRIPT instead of the dump: job_from_backup NAME [SCRIPT [BACKUP]]. Prints its manifest.
job_from_backup() {
  k create job --from="cronjob/$BACKUP_CRONJOB" "$1" --dry-run=client -o json | node -e '
    const [script, backup] = process.argv.slice(1);
    let text = "";
    process.stdin.on("data", (chunk) => (text += chunk)).on("end", () => {
      const job = JSON.parse(text);
      const container = job.spec.template.spec.containers[0];
      if (script) {
        container.command = ["bash", "-c", script];
        job.spec.backoffLimit = 0;
      }
      if (backup) container.env.push({ name: "BACKUP", value: backup });
      process.stdout.write(JSON.stringify(job));
    });' "${2:-}" "${3:-}"
}

# A copy of a Job the program created, under a new name (Kubernetes sets a Job's template once): clone_job SOURCE NAME.
clone_job() {
  k get job "$1" -o json | node -e '
    const name = process.argv[1];
    let text = "";
    process.stdin.on("data", (chunk) => (text += chunk)).on("end", () => {
      const job = JSON.parse(text);
      const generated = (labels) => Object.fromEntries(Object.entries(labels ?? {}).filter(([key]) => !/(^|\/)(controller-uid|job-name)$/.test(key)));
      const spec = { ...job.spec, template: { ...job.spec.template, metadata: { ...job.spec.template.metadata, labels: generated(job.spec.template.metadata.labels) } } };
      delete spec.selector;
      delete spec.manualSelector;
      const copy = { apiVersion: "batch/v1", kind: "Job", metadata: { name, labels: generated(job.metadata.labels) }, spec };
      process.stdout.write(JSON.stringify(copy));
    });' "$2"
}

# wait_job NAME SECONDS: 0 once the Job completed; 1, with the end of its log, when it failed or timed out.
wait_job() {
  local name="$1" deadline=$((SECONDS + $2)) state
  while :; do
    state=" $(k get job "$name" -o jsonpath='{.status.conditions[?(@.status=="True")].type}' | tr '\n' ' ') "
    case "$state" in
      *" Complete "*) return 0 ;;
      *" Failed "*) break ;;
    esac
    [ "$SECONDS" -lt "$deadline" ] || { say "job $name did not finish in $2 s"; break; }
    sleep 2
  done
  k logs "job/$name" --tail=30 >&2 || true
  return 1
}

# run_job NAME SECONDS < MANIFEST: creates the Job, waits for it, prints its log; deletes it when it succeeded.
run_job() {
  k create -f - >/dev/null || die "could not create job $1 in namespace $namespace" "check the cluster is up and the stack deployed (npm run deploy -- --stack $stack)"
  if ! wait_job "$1" "$2"; then
    die "job $1 failed; it is kept for its logs: kubectl -n $namespace logs job/$1" "fix what its log says, delete it (kubectl -n $namespace delete job $1) and run again"
  fi
  # The log of the pod that succeeded: a Job that needed its retry has a failed pod too.
  k logs "$(k get pods -l "batch.kubernetes.io/job-name=$1" --field-selector=status.phase=Succeeded -o name | head -n 1)"
  k delete job "$1" --wait=false >/dev/null 2>&1 || true
}

stamp() { date -u +%Y%m%d-%H%M%S; }

# Backups exist only where the program created the CronJob.
k get cronjob "$BACKUP_CRONJOB" -o name >/dev/null 2>&1 ||
  die "stack $stack has no backup CronJob in namespace $namespace: its backups are off, or it is not deployed" \
    "pulumi config set backupEnabled true --stack $stack && npm run deploy -- --stack $stack" 2

# Refuse while a backup Job runs: a restore would race its dump, and two dumps would race the pruning.
running="$(k get jobs -l app.kubernetes.io/name=postgres-backup -o jsonpath='{range .items[?(@.status.active)]}{.metadata.name}{"\n"}{end}')"
if [ -n "$running" ]; then
  die "a backup is running (job ${running//$'\n'/, }); nothing was changed" \
    "wait for it (kubectl -n $namespace wait --for=condition=complete job/${running%%$'\n'*}) and run again" 2
fi

take_backup() {
  local name
  name="postgres-backup-manual-$(stamp)"
  say "taking a backup (job $name)"
  job_from_backup "$name" | run_job "$name" 1800 | sed -n 's/^backup \(.*\): .*/\1/p'
}

if [ "$command" = backup ]; then
  file="$(take_backup)"
  [ -n "$file" ] || die "the backup job finished without naming its file" "look at the CronJob's script in components/postgres-backup.ts"
  say "backup $file is in the volume postgres-backups of namespace $namespace"
  echo "$file"
  exit 0
fi

say "listing the backups of $stack"
list_job="postgres-backup-list-$(stamp)"
# shellcheck disable=SC2016 # the pod's shell expands $STACK
backups="$(job_from_backup "$list_job" 'find /backups -maxdepth 1 -type f -name "${STACK}-*.dump" -printf "%f\n" | sort -r' |
  run_job "$list_job" 300 | sed -nE "/$BACKUP_FILE_PATTERN/p")"
if [ -z "$backup" ]; then
  [ -n "$backups" ] || { say "no backups yet: npm run db:backup -- --stack $stack takes one"; exit 0; }
  echo "$backups"
  exit 0
fi
if ! grep -qxF "$backup" <<<"$backups"; then
  echo "$API_STACK_SCRIPT: no backup $backup in stack $stack; nothing was changed. The backups there are:" >&2
  echo "${backups:-  (none)}" >&2
  exit 2
fi

fresh="$(take_backup)"
say "fresh backup $fresh taken; restoring $backup"

replicas="$(k get deployment "$API_DEPLOYMENT" -o jsonpath='{.spec.replicas}')"
# From here on the API is down: bring it back however the script ends.
scale_back() {
  say "scaling the API back to $replicas"
  k scale deployment "$API_DEPLOYMENT" --replicas="$replicas" >/dev/null &&
    k rollout status deployment "$API_DEPLOYMENT" --timeout=300s >&2 ||
    echo "$API_STACK_SCRIPT: next: scale it yourself: kubectl -n $namespace scale deployment $API_DEPLOYMENT --replicas=$replicas" >&2
}
trap scale_back EXIT
say "scaling the API to 0 (from $replicas)"
k scale deployment "$API_DEPLOYMENT" --replicas=0 >/dev/null
k wait --for=delete pod -l app.kubernetes.io/name=api --timeout=120s >/dev/null 2>&1 || true

# One transaction: a restore that fails leaves the database as it was. Grants are not restored (the roles
# Job below sets them for this stack's roles), nor owners (everything belongs to the owner who restores).
restore_job="postgres-restore-$(stamp)"
# shellcheck disable=SC2016 # the pod's shell expands $BACKUP and $PGDATABASE
job_from_backup "$restore_job" 'set -euo pipefail
test -f "/backups/$BACKUP"
# A new pod may be refused for its first seconds, until the NetworkPolicy agent admits its address.
for _ in $(seq 1 15); do pg_isready --quiet --timeout=2 && break; sleep 1; done
pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction --exit-on-error --dbname="$PGDATABASE" "/backups/$BACKUP"
echo "restored $BACKUP"' "$backup" | run_job "$restore_job" 3600 >&2

# Migrations up to this release, then the API's roles and grants (a lost volume has neither).
for prefix in api-migrate- api-database-roles-; do
  source_job="$(k get jobs -l app.kubernetes.io/name=database-job --sort-by=.metadata.creationTimestamp -o name |
    sed -n "s|^job.batch/\($prefix.*\)|\1|p" | tail -n 1)"
  [ -n "$source_job" ] || die "no ${prefix}* job in namespace $namespace to rerun" "run npm run deploy -- --stack $stack, which recreates it"
  copy="${source_job:0:40}-restore-$(stamp)"
  say "rerunning $source_job as $copy"
  clone_job "$source_job" "$copy" | run_job "$copy" 600 >&2
done
trap - EXIT
scale_back
say "restored $backup into $stack (the backup taken just before is $fresh)"
