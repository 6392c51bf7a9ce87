# App AMI: the golden AMI plus the app container, loaded once at bake time by digest into
# the image's container store and run by a systemd unit pinned to that digest. Nothing is
# pulled or installed at boot, so the container reaches the fleets inside the AMI.
#
# The golden AMI has no sshd and no keys, so nothing can log in to an instance of it: on
# AWS the app layer is added by amazon-chroot, which mounts a volume made from the golden
# snapshot on the bake host and never boots it. amazon-ebs is the emulator's path (no
# instance boots there, no provisioner runs). kiln picks one with -only.

locals {
  app_tags = {
    Name             = "kiln-app"
    "kiln:name"      = "app"
    "kiln:base"      = var.golden_ami
    "kiln:container" = var.container_image
  }
}

# Runs on an EC2 bake host (as root, in var.region): a volume from the golden snapshot is
# attached and mounted there, the app layer is written into it, and it is registered as
# the app AMI. Block device mappings (gp3, encrypted, size) come from the golden AMI.
source "amazon-chroot" "app" {
  region          = var.region
  source_ami      = var.golden_ami
  ami_name        = "kiln-app-${local.stamp}"
  ami_description = "kiln app image: ${var.container_image}"
  # Registered from a snapshot, the AMI has only the features named here; Nitro types need ENA.
  ena_support   = true
  sriov_support = true
  # The volume is encrypted already (from the golden snapshot); this also re-encrypts a
  # golden AMI that is not, so no unencrypted app AMI can come out.
  encrypt_boot     = true
  device_path      = var.chroot_device_path
  nvme_device_path = var.chroot_nvme_device_path
  # The golden root is XFS made from the same base as the bake host's own root: same UUID.
  mount_options = ["nouuid"]
  # Nothing inside needs DNS, and /etc/resolv.conf is a symlink on systemd images: copying
  # over it would write through to the host.
  copy_files = []

  # On the host, after the volume is mounted and before the provisioners run in the chroot.
  post_mount_commands = [
    "KILN_MOUNT='{{ .MountPath }}' CONTAINER_IMAGE='${var.container_image}' STORAGE_DRIVER=overlay2 bash '${path.root}/scripts/load-container.sh'",
  ]

  tags = local.app_tags
  snapshot_tags = {
    "kiln:name" = "app"
  }
  root_volume_tags = {
    "kiln:name" = "app"
  }
}

build {
  sources = ["source.amazon-chroot.app"]

  # The emulator's path: the shared amazon-ebs source (variables.pkr.hcl) as amazon-ebs.app.
  source "amazon-ebs.golden" {
    name            = "app"
    source_ami      = var.golden_ami
    ami_name        = "kiln-app-${local.stamp}"
    ami_description = "kiln app image: ${var.container_image}"
    tags            = local.app_tags
    snapshot_tags = {
      "kiln:name" = "app"
    }
  }

  # Inside the chroot, as root: write the unit, clean up, and check the image (its store
  # included) before it is captured.
  provisioner "shell" {
    only            = ["amazon-chroot.app"]
    execute_command = "{{ .Vars }} bash '{{ .Path }}'"
    environment_vars = [
      "CONTAINER_IMAGE=${var.container_image}",
      "APP_PORT=${var.app_port}",
    ]
    scripts = [
      "${path.root}/scripts/app.sh",
      "${path.root}/scripts/cleanup.sh",
      "${path.root}/scripts/validate.sh",
    ]
  }

  post-processor "manifest" {
    output     = "${path.root}/manifest.json"
    strip_path = true
  }
}
