# Plugins for Packer >= 1.7. Packer 1.6 has these built in and rejects this block, so
# kiln's runner leaves this file out when the installed Packer is older than 1.7.
# Exact pins: a plugin release changes what a bake does, so it is a reviewed change here.
packer {
  required_version = ">= 1.7.0"
  required_plugins {
    amazon = {
      version = "= 1.8.3"
      source  = "github.com/hashicorp/amazon"
    }
    docker = {
      version = "= 1.1.4"
      source  = "github.com/hashicorp/docker"
    }
  }
}
