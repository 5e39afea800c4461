# Login shells (bash -l, su -) see the environment my_init exported at boot: phusion's
# /etc/container_environment.sh, or the one in my_init's runtime directory when my_init could
# not write /etc (a non-root user, a read-only root: README.md, "Running it"). The /etc file is
# 0640 root:docker_env and the others private to their owner: other users skip them. Under /tmp
# (a shared one) only a directory of this user's or of PID 1's user counts: root's login shell in
# a non-root container (docker exec -u root) reads the init's own export, as service-status does.
_boxwright_init_uid=$(stat -c %u /proc/1 2>/dev/null)
for _boxwright_env in /run/my_init/container_environment.sh \
    "/tmp/my_init-$(id -u)/container_environment.sh" \
    "/tmp/my_init-${_boxwright_init_uid:-none}/container_environment.sh" /etc/container_environment.sh; do
    case $_boxwright_env in
        /tmp/*)
            _boxwright_owner=$(stat -c %u "${_boxwright_env%/*}" 2>/dev/null) || continue
            [ "$_boxwright_owner" = "$(id -u)" ] || [ "$_boxwright_owner" = "$_boxwright_init_uid" ] || continue
            ;;
    esac
    if [ -r "$_boxwright_env" ]; then
        . "$_boxwright_env"
        break
    fi
done
unset _boxwright_env _boxwright_init_uid _boxwright_owner
