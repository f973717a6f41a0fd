# Records the machine settings cluster-up may change, and restores them. Sourced after lib.sh.
# shellcheck shell=bash

iptables_families() {
  local cmd
  for cmd in iptables ip6tables; do
    command -v "${cmd}-save" >/dev/null 2>&1 && "${cmd}-save" >/dev/null 2>&1 && echo "${cmd}"
  done
}

# Rules without counters, one table at a time: comparable before and after.
iptables_rules() {
  local family="$1"
  "${family}-save" 2>/dev/null | sed -e 's/\[[0-9]*:[0-9]*\]//' -e '/^#/d'
}

# Every chain name, as "family table chain".
iptables_chains() {
  local family table
  for family in $(iptables_families); do
    "${family}-save" 2>/dev/null | awk -v f="${family}" '/^\*/ {t=substr($0,2)} /^:/ {print f, t, substr($1,2)}'
  done
}

cgroup_dirs() { find /sys/fs/cgroup -mindepth 1 -maxdepth 4 -type d 2>/dev/null | LC_ALL=C sort; }

mount_points() { awk '{print $5}' /proc/self/mountinfo | LC_ALL=C sort -u; }

# Called once per cluster life, before anything changes; a later cluster-up after a crash
# first restores from the record a crashed run left behind.
snapshot_machine() {
  mkdir -p "${STATE_DIR}"
  local key p
  : >"${STATE_DIR}/sysctl.before"
  for key in "${WATCHED_SYSCTLS[@]}"; do
    if value="$(sysctl -n "${key}" 2>/dev/null)"; then
      printf '%s=%s\n' "${key}" "${value}" >>"${STATE_DIR}/sysctl.before"
    fi
  done
  iptables_chains >"${STATE_DIR}/chains.before"
  cgroup_dirs >"${STATE_DIR}/cgroups.before"
  mount_points >"${STATE_DIR}/mounts.before"
  : >"${STATE_DIR}/paths.before"
  for p in "${FIXED_PATHS[@]}"; do
    [[ -e "${p}" || -L "${p}" ]] && echo "${p}" >>"${STATE_DIR}/paths.before"
  done
  touch "${STATE_DIR}/snapshot.done"
}

restore_iptables() {
  [[ -f "${STATE_DIR}/chains.before" ]] || return 0
  local family table chain line new_chains
  new_chains="$(comm -13 <(LC_ALL=C sort "${STATE_DIR}/chains.before") <(iptables_chains | LC_ALL=C sort))"
  [[ -z "${new_chains}" ]] && return 0
  for family in $(iptables_families); do
    for table in $(echo "${new_chains}" | awk -v f="${family}" '$1==f {print $2}' | sort -u); do
      local chains
      chains="$(echo "${new_chains}" | awk -v f="${family}" -v t="${table}" '$1==f && $2==t {print $3}')"
      # Remove the jumps into the new chains from every chain that stays, then the chains.
      while read -r line; do
        local target
        target="$(sed -n 's/.* -[jg] \([^ ]*\).*/\1/p' <<<"${line}")"
        grep -qxF -- "${target}" <<<"${chains}" || continue
        local owner="${line#-A }"; owner="${owner%% *}"
        grep -qxF -- "${owner}" <<<"${chains}" && continue
        eval "${family} -w -t ${table} -D ${line#-A }" 2>/dev/null || true
      done < <("${family}-save" -t "${table}" 2>/dev/null | grep '^-A ')
      for chain in ${chains}; do "${family}" -w -t "${table}" -F "${chain}" 2>/dev/null || true; done
      for chain in ${chains}; do "${family}" -w -t "${table}" -X "${chain}" 2>/dev/null || true; done
    done
  done
}

restore_sysctls() {
  [[ -f "${STATE_DIR}/sysctl.before" ]] || return 0
  local key value
  while IFS='=' read -r key value; do
    [[ "$(sysctl -n "${key}" 2>/dev/null)" == "${value}" ]] && continue
    log "restoring sysctl ${key}=${value}"
    sysctl -q -w "${key}=${value}" >/dev/null 2>&1 || log "could not restore ${key}"
  done <"${STATE_DIR}/sysctl.before"
}

restore_cgroups() {
  [[ -f "${STATE_DIR}/cgroups.before" ]] || return 0
  local dir
  # Deepest first; a cgroup still holding a process stays (and is reported).
  comm -13 "${STATE_DIR}/cgroups.before" <(cgroup_dirs) | awk '{print length, $0}' | sort -rn \
    | cut -d' ' -f2- | while read -r dir; do
      find "${dir}" -depth -type d -exec rmdir {} \; 2>/dev/null || log "cgroup ${dir} is still in use"
    done
}

# Unmount everything mounted under the given roots since cluster-up, deepest first.
unmount_under() {
  local root mp
  for root in "$@"; do
    [[ -n "${root}" ]] || continue
    awk '{print $5}' /proc/self/mountinfo | { grep -E "^${root}(/|$)" || true; } | awk '{print length, $0}' \
      | sort -rn | cut -d' ' -f2- | while read -r mp; do
        if [[ -f "${STATE_DIR}/mounts.before" ]] && grep -qxF "${mp}" "${STATE_DIR}/mounts.before"; then
          continue
        fi
        umount "${mp}" 2>/dev/null || umount -l "${mp}" 2>/dev/null || log "could not unmount ${mp}"
      done
  done
}

restore_paths() {
  [[ -f "${STATE_DIR}/paths.before" ]] || return 0
  local p
  for p in "${FIXED_PATHS[@]}"; do
    grep -qxF "${p}" "${STATE_DIR}/paths.before" && continue
    [[ -e "${p}" || -L "${p}" ]] || continue
    unmount_under "$(realpath "${p}")"
    rm -rf "${p}" 2>/dev/null || log "could not remove ${p}"
  done
}

# Read before matching: under pipefail, `ip ... | grep -q` fails when grep exits first and
# ip gets SIGPIPE, which would read as "not there".
node_ip_on_lo() {
  local addrs
  addrs="$(ip -o addr show dev lo)"
  grep -qw "${NODE_IP}/32" <<<"${addrs}"
}

# The bridge and the node IP (a /32 on lo) are the cluster's by name, whoever left them:
# removed even when a crashed run left them behind before the last snapshot.
restore_network() {
  if ip -o link show "${BRIDGE}" >/dev/null 2>&1; then
    ip link delete "${BRIDGE}" 2>/dev/null || log "could not delete ${BRIDGE}"
  fi
  local try
  for try in 1 2 3; do
    node_ip_on_lo || return 0
    ip addr delete "${NODE_IP}/32" dev lo 2>/dev/null || true
    sleep "0.${try}"
  done
  ! node_ip_on_lo || log "could not remove ${NODE_IP} from lo"
}
