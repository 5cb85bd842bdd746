# pw-pool-op: install
# shellcheck shell=bash
#
# install: copy the staged installed set into $PW_LIBEXEC (root:wheel 0755, files 0755, each
# to a temp name, then renamed) and ci_env.sh to the login directory (0755).
set -euo pipefail

pw_op_install() {
  local f
  [ "$#" -eq 0 ] || pw_refuse install 'usage: install (no arguments)'
  pw_priv_ok || pw_refuse install "$PW_PRIV must be a directory owned by $(id -un) with mode 0700"
  for f in $PW_INSTALLED_SET; do
    [ -f "$PW_STAGE/$f" ] || pw_refuse install "staged file $f is missing"
  done
  sudo install -d -o root -g wheel -m 0755 "$PW_LIBEXEC"
  for f in $PW_INSTALLED_SET; do
    sudo install -o root -g wheel -m 0755 "$PW_STAGE/$f" "$PW_LIBEXEC/.$f.tmp"
    sudo mv -f "$PW_LIBEXEC/.$f.tmp" "$PW_LIBEXEC/$f"
  done
  install -m 0755 "$PW_STAGE/ci_env.sh" "$PW_EC2_HOME/.ci_env.sh.tmp"
  mv -f "$PW_EC2_HOME/.ci_env.sh.tmp" "$PW_CI_ENV_COPY"
  pw_kv install ok
  pw_end install
}

pw_op_install "$@" </dev/null
