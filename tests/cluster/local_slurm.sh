#!/usr/bin/env bash
# A one-node SLURM cluster on loopback, with accounting (slurmdbd + MariaDB) so that `sacct`
# answers: the Snakemake SLURM executor polls job status with sacct.
#
#   sudo tests/cluster/local_slurm.sh start DIR   # install if needed, configure, start; prints
#                                                 # the `export SLURM_CONF=...` to use
#   sudo tests/cluster/local_slurm.sh stop DIR    # stop every daemon started in DIR (DIR stays)
#
# Everything (configs, munge key, database, spool, logs) lives in DIR, which must be new or
# empty; no system service is touched, so it runs in a container without systemd. Two system
# paths are used, so neither may be taken already: /etc/slurm/slurm.conf, a link to DIR's config
# while the cluster runs (the Snakemake jobstep plugin drops SLURM_CONF before its `srun` inside
# each job, so srun must find the config at the default path), and munged's socket
# /run/munge/munge.socket.2 (Slurm's clients do not follow AuthInfo=socket=).
# Needs root (the daemons switch to the slurm, munge and mysql users) and, the first time, apt
# (Debian/Ubuntu: slurmctld slurmd slurmdbd slurm-client munge mariadb-server). The daemons listen
# on free loopback ports picked at start.
# Environment: LOCAL_SLURM_CLUSTER (cluster name, default dsbench_local), LOCAL_SLURM_PARTITION
# (default debug), LOCAL_SLURM_ACCOUNT (default dsbench).
set -euo pipefail

CLUSTER=${LOCAL_SLURM_CLUSTER:-dsbench_local}
PARTITION=${LOCAL_SLURM_PARTITION:-debug}
ACCOUNT=${LOCAL_SLURM_ACCOUNT:-dsbench}
MUNGE_SOCKET_DIR=/run/munge
DEFAULT_CONF=/etc/slurm/slurm.conf
PACKAGES=(slurmctld slurmd slurmdbd slurm-client munge mariadb-server)
BINARIES=(slurmctld slurmd slurmdbd sbatch sacct sacctmgr scontrol munged mariadbd mariadb-install-db)

die() { echo "local_slurm: $*" >&2; exit 1; }

install_packages() {
  local missing=()
  for binary in "${BINARIES[@]}"; do
    PATH=$PATH:/usr/sbin:/sbin command -v "$binary" >/dev/null || missing+=("$binary")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install ${PACKAGES[*]}"
  echo "local_slurm: installing ${PACKAGES[*]} (missing: ${missing[*]})" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  # --no-install-recommends: no mail server, no systemd units pulled in beyond the packages'.
  apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >&2
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds; on timeout show the log.
wait_for() {
  local seconds=$1 what=$2 log=$3; shift 3
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      echo "local_slurm: $what did not answer within ${seconds}s; last lines of $log:" >&2
      tail -n 30 "$log" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
}

write_configs() {
  local dir=$1
  local ctld_port d_port dbd_port db_port db_password node_line
  ctld_port=$(free_port); d_port=$(free_port); dbd_port=$(free_port); db_port=$(free_port)
  db_password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  # The machine's CPUs, sockets, cores, threads and RealMemory as slurmd sees them, renamed to
  # the loopback node (slurmd drains a node that claims more than it has).
  node_line=$(slurmd -C | head -n 1 | sed -E 's/^NodeName=[^ ]+/NodeName=localhost NodeAddr=127.0.0.1/')

  mkdir -p "$dir"/{munge,mysql,ctld,spool,log,run} "$MUNGE_SOCKET_DIR"
  chown munge:munge "$dir/munge" "$MUNGE_SOCKET_DIR"
  chmod 700 "$dir/munge"
  chmod 755 "$MUNGE_SOCKET_DIR"
  chown mysql:mysql "$dir/mysql"
  chown slurm:slurm "$dir/ctld" "$dir/log" "$dir/run"
  chmod 777 "$dir/log" "$dir/run"  # slurmctld (slurm) and slurmd (root) write logs/pids here

  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chown munge:munge "$dir/munge/munge.key"
  chmod 400 "$dir/munge/munge.key"

  cat >"$dir/slurm.conf" <<EOF
# Written by tests/cluster/local_slurm.sh: one node on loopback.
ClusterName=$CLUSTER
SlurmctldHost=localhost
SlurmUser=slurm
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
# No cgroups in a container: track processes through /proc, no CPU binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# Finished jobs stay visible to squeue for 5 minutes; sacct keeps them for good.
MinJobAge=300
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$dbd_port
# sacct's Comment column: the Snakemake executor puts rule_<name>[_wildcards_...] there.
AccountingStoreFlags=job_comment
$node_line State=UNKNOWN
PartitionName=$PARTITION Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF

  cat >"$dir/slurmdbd.conf" <<EOF
# Written by tests/cluster/local_slurm.sh.
AuthType=auth/munge
DbdHost=localhost
DbdPort=$dbd_port
SlurmUser=slurm
PidFile=$dir/run/slurmdbd.pid
LogFile=$dir/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$db_port
StorageUser=slurm
StoragePass=$db_password
StorageLoc=slurm_acct_db
EOF
  # slurmdbd refuses a config that others can read (it holds the database password).
  chown slurm:slurm "$dir/slurmdbd.conf"
  chmod 600 "$dir/slurmdbd.conf"
  chmod 644 "$dir/slurm.conf"
  echo "$db_port" >"$dir/mysql.port"
  echo "$db_password" >"$dir/mysql.password"
  chmod 600 "$dir/mysql.password"
}

start_munge() {
  local dir=$1
  runuser -u munge -- munged --key-file="$dir/munge/munge.key" \
    --socket="$MUNGE_SOCKET_DIR/munge.socket.2" --pid-file="$dir/munge/munged.pid" \
    --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"
  wait_for 30 munged "$dir/munge/munged.log" sh -c "munge -n | unmunge"
}

start_mariadb() {
  local dir=$1 port password
  port=$(cat "$dir/mysql.port"); password=$(cat "$dir/mysql.password")
  mariadb-install-db --no-defaults --user=mysql --datadir="$dir/mysql/data" \
    --auth-root-authentication-method=socket --skip-test-db >"$dir/log/mariadb-install.log" 2>&1 \
    || { tail -n 30 "$dir/log/mariadb-install.log" >&2; die "mariadb-install-db failed"; }
  # A private server: its own socket and a loopback TCP port for slurmdbd.
  mariadbd --no-defaults --user=mysql --datadir="$dir/mysql/data" \
    --socket="$dir/mysql/mysqld.sock" --pid-file="$dir/mysql/mysqld.pid" \
    --bind-address=127.0.0.1 --port="$port" --log-error="$dir/mysql/mysqld.err" \
    --innodb-buffer-pool-size=32M --skip-name-resolve >/dev/null 2>&1 &
  wait_for 60 mariadbd "$dir/mysql/mysqld.err" \
    mariadb --no-defaults --socket="$dir/mysql/mysqld.sock" -u root -e 'SELECT 1'
  mariadb --no-defaults --socket="$dir/mysql/mysqld.sock" -u root <<EOF
CREATE DATABASE slurm_acct_db;
CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$password';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
EOF
}

start_slurm() {
  local dir=$1
  export SLURM_CONF=$dir/slurm.conf  # slurmdbd reads slurmdbd.conf next to it
  slurmdbd
  wait_for 60 slurmdbd "$dir/log/slurmdbd.log" sacctmgr -n list cluster
  # The cluster, an account and root in it, so that jobs are accepted and accounted.
  sacctmgr -i add cluster "$CLUSTER" >/dev/null
  sacctmgr -i add account "$ACCOUNT" Cluster="$CLUSTER" Description=local Organization=local >/dev/null
  sacctmgr -i add user root Account="$ACCOUNT" DefaultAccount="$ACCOUNT" Cluster="$CLUSTER" >/dev/null
  slurmctld
  wait_for 60 slurmctld "$dir/log/slurmctld.log" scontrol ping
  slurmd -N localhost
  wait_for 60 "slurmd (node localhost idle)" "$dir/log/slurmd.log" \
    sh -c "sinfo -h -n localhost -o %t | grep -qx idle"
}

start() {
  local dir=${1:?usage: local_slurm.sh start DIR}
  [ "$(id -u)" -eq 0 ] || die "needs root (the daemons switch to the slurm, munge and mysql users)"
  export PATH=$PATH:/usr/sbin:/sbin
  install_packages
  mkdir -p "$dir"
  [ -z "$(ls -A "$dir")" ] || die "$dir is not empty; give a new directory"
  dir=$(cd "$dir" && pwd)
  # The daemons run as other users: they must be able to reach DIR.
  chmod 755 "$dir"
  local parent=$dir
  while parent=$(dirname "$parent") && [ "$parent" != / ]; do
    runuser -u slurm -- test -x "$parent" \
      || die "$parent is not searchable by the slurm user; choose DIR elsewhere (mktemp -d /tmp/slurm.XXXX)"
  done
  if [ -S "$MUNGE_SOCKET_DIR/munge.socket.2" ] && munge -n >/dev/null 2>&1; then
    die "a munged already answers on $MUNGE_SOCKET_DIR/munge.socket.2 (a system cluster?); stop it first"
  fi
  if [ -e "$DEFAULT_CONF" ] || [ -L "$DEFAULT_CONF" ]; then
    die "$DEFAULT_CONF exists (a system cluster?); move it away first"
  fi
  write_configs "$dir"
  mkdir -p "$(dirname "$DEFAULT_CONF")"
  ln -s "$dir/slurm.conf" "$DEFAULT_CONF"
  start_munge "$dir"
  start_mariadb "$dir"
  start_slurm "$dir"
  echo "export SLURM_CONF=$dir/slurm.conf"
}

# kill_pidfile FILE: stop the daemon whose pid is in FILE and wait for it to exit.
kill_pidfile() {
  local file=$1 pid
  [ -s "$file" ] || return 0
  pid=$(cat "$file")
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.5
  done
  kill -9 "$pid" 2>/dev/null || true
}

stop() {
  local dir=${1:?usage: local_slurm.sh stop DIR}
  dir=$(cd "$dir" && pwd)
  export PATH=$PATH:/usr/sbin:/sbin SLURM_CONF=$dir/slurm.conf
  # Jobs first, so that no slurmstepd outlives slurmd; then the daemons in reverse start order.
  if [ -s "$dir/run/slurmctld.pid" ]; then
    scancel --full --cluster="$CLUSTER" -u root >/dev/null 2>&1 || true
  fi
  kill_pidfile "$dir/run/slurmd.pid"
  kill_pidfile "$dir/run/slurmctld.pid"
  kill_pidfile "$dir/run/slurmdbd.pid"
  kill_pidfile "$dir/mysql/mysqld.pid"
  kill_pidfile "$dir/munge/munged.pid"
  if [ "$(readlink "$DEFAULT_CONF" || true)" = "$dir/slurm.conf" ]; then rm -f "$DEFAULT_CONF"; fi
}

case "${1:-}" in
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 start DIR | stop DIR" >&2; exit 2 ;;
esac
