# Plugins for Packer >= 1.7. Packer 1.6 has these built in and rejects this block, so
# kiln's runner leaves this file out when the installed Packer is older than 1.7.
packer {
  required_version = ">= 1.7.0"
  required_plugins {
    amazon = {
      version = ">= 1.2.0"
      source  = "github.com/hashicorp/amazon"
    }
    docker = {
      version = ">= 1.0.8"
      source  = "github.com/hashicorp/docker"
    }
  }
}
