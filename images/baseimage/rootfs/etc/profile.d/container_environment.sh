# Login shells (bash -l, su -) see the environment my_init exported at boot: phusion's
# /etc/container_environment.sh, or the one in my_init's runtime directory when my_init could
# not write /etc (a non-root user, a read-only root: README.md, "Running it"). The /etc file is
# 0640 root:docker_env and the others private to their owner: other users skip them.
for _boxwright_env in /run/my_init/container_environment.sh \
    "/tmp/my_init-$(id -u)/container_environment.sh" /etc/container_environment.sh; do
    case $_boxwright_env in
        /tmp/*) [ -O "${_boxwright_env%/*}" ] || continue ;;  # a shared /tmp: only one's own
    esac
    if [ -r "$_boxwright_env" ]; then
        . "$_boxwright_env"
        break
    fi
done
unset _boxwright_env
