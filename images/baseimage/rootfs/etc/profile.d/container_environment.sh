# Login shells (bash -l, su -) see the environment my_init exported at boot.
# The file is 0640 root:docker_env: other users skip it.
if [ -r /etc/container_environment.sh ]; then
    . /etc/container_environment.sh
fi
