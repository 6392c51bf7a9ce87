# Pinned inputs of every bake. kiln reads this file too (plain `name = value` lines only)
# and hashes its bytes: changing a pin changes the input hash and so rebakes.
region           = "eu-west-1"
instance_type    = "t3.micro"
root_volume_gb   = 20
ssh_username     = "ec2-user"
source_ami_name  = "al2023-ami-2023.*-kernel-6.12-x86_64"
source_ami_owner = "137112412989"
app_port         = 8080
app_release      = "web-1.0.0"
container_base   = "kiln/busybox:1.35"
container_pull   = false
