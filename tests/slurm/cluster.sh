#!/usr/bin/env bash
# A single-node Slurm cluster on loopback for the Slurm executor's tests (docs/cluster.md).
# Debian 12's own packages (slurmctld, slurmd, slurm-client, munge), run as root, no systemd:
# each daemon is started here and stopped by its PID file.
#
#   tests/slurm/cluster.sh install   apt-get the packages (daemons are not started by postinst)
#   tests/slurm/cluster.sh up        write the config, start munged, slurmctld and slurmd
#   tests/slurm/cluster.sh down      stop the daemons by PID file, drop the controller's state
#   tests/slurm/cluster.sh status    exit 0 when the controller answers and the node takes jobs
#
# XNAS_SLURM_BASE (default /tmp/xnas-slurm-cluster) holds state, logs and PID files.
set -euo pipefail

BASE=${XNAS_SLURM_BASE:-/tmp/xnas-slurm-cluster}
PIDS=$BASE/pid LOGS=$BASE/log STATE=$BASE/state
CONF=/etc/slurm/slurm.conf
PACKAGES=(slurmctld slurmd slurm-client munge)

say() { echo "cluster.sh: $*" >&2; }
fail() { say "$*"; exit 1; }
as_root() { [ "$(id -u)" = 0 ] || fail "run as root (it installs packages and starts daemons)"; }
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

install() {
  as_root
  if dpkg-query -W -f='${Status}\n' "${PACKAGES[@]}" 2>/dev/null | grep -c 'install ok installed' \
      | grep -qx "${#PACKAGES[@]}"; then
    return 0
  fi
  # No daemon may start from a package's postinst: this script owns them.
  local policy=/usr/sbin/policy-rc.d made=0
  if [ ! -e $policy ]; then printf '#!/bin/sh\nexit 101\n' >$policy; chmod +x $policy; made=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
  if [ $made = 1 ]; then rm -f $policy; fi
}

config() {
  mkdir -p "$PIDS" "$LOGS" "$STATE/ctld" "$STATE/d" /etc/slurm
  chown slurm:slurm "$STATE/ctld" "$LOGS"
  # This machine's real CPUs and memory, as slurmd sees them.
  local node; node=$(slurmd -C | head -1)
  cat >$CONF <<CONF
# Written by xnas tests/slurm/cluster.sh: one node on loopback, no accounting database.
ClusterName=xnas-test
SlurmctldHost=$(hostname -s)(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$PIDS/slurmctld.pid
SlurmdPidFile=$PIDS/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# Finished jobs stay visible to squeue for an hour (xnas reads their end state there).
MinJobAge=3600
MaxArraySize=10001
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Jobs without --mem would take the whole node, one at a time.
DefMemPerCPU=256
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
KillWait=5
InactiveLimit=0
MailProg=/bin/true
$node State=UNKNOWN NodeAddr=127.0.0.1
PartitionName=debug Nodes=$(hostname -s) Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
}

up() {
  as_root
  command -v slurmctld >/dev/null || fail "Slurm is not installed: run \`$0 install\` first"
  config
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
  fi
  alive /run/munge/munged.pid || runuser -u munge -- /usr/sbin/munged --force --pid-file=/run/munge/munged.pid
  ln -sf /run/munge/munged.pid "$PIDS/munged.pid"
  wait_for "munge" 'munge -n </dev/null | unmunge >/dev/null 2>&1'
  alive "$PIDS/slurmctld.pid" || slurmctld
  wait_for "slurmctld (log: $LOGS/slurmctld.log)" 'scontrol ping 2>/dev/null | grep -q UP'
  alive "$PIDS/slurmd.pid" || slurmd
  wait_for "the node (log: $LOGS/slurmd.log)" 'sinfo -h -N -o %t 2>/dev/null | grep -Eqx "idle|mix|alloc"'
  say "up: $(sinfo -h -N -o '%N %t cpus=%c mem=%m')"
}

wait_for() {
  for _ in $(seq 200); do eval "$2" && return 0; sleep 0.1; done
  fail "$1 did not come up"
}

down() {
  as_root
  local f pid
  for f in "$PIDS/slurmd.pid" "$PIDS/slurmctld.pid" "$PIDS/munged.pid"; do
    [ -e "$f" ] || continue
    pid=$(cat "$f" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
    fi
    rm -f "$f"
  done
  rm -rf "$STATE"
}

status() {
  scontrol ping 2>/dev/null | grep -q UP && sinfo -h -N -o %t 2>/dev/null | grep -Eqx "idle|mix|alloc"
}

case "${1:-}" in
  install | up | down | status) "$1" ;;
  *) echo "usage: $0 install|up|down|status" >&2; exit 2 ;;
esac
