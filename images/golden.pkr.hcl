# Golden AMI: the hardened base every app AMI starts from. A container runtime, no sshd
# enabled, no authorized keys, cloud-init ignores user data, no package timers or
# repositories left to patch with at boot. validate.sh fails the bake otherwise.

source "amazon-ebs" "golden" {
  region                     = var.region
  source_ami                 = var.source_ami
  instance_type              = var.instance_type
  ami_name                   = "kiln-golden-${local.stamp}"
  ami_description            = "kiln golden image (hardened base with a container runtime)"
  communicator               = var.communicator
  ssh_username               = var.ssh_username
  custom_endpoint_ec2        = var.ec2_endpoint
  skip_credential_validation = var.ec2_endpoint != ""
  skip_region_validation     = var.ec2_endpoint != ""
  skip_metadata_api_check    = var.ec2_endpoint != ""

  launch_block_device_mappings {
    device_name           = "/dev/xvda"
    volume_size           = var.root_volume_gb
    volume_type           = "gp3"
    throughput            = 125
    iops                  = 3000
    encrypted             = true
    delete_on_termination = true
  }


  # kiln adds kiln:release, kiln:signature, kiln:input-hash and kiln:commit once the
  # record is signed: an AMI without them is not a finished bake.
  tags = {
    Name        = "kiln-golden"
    "kiln:name" = "golden"
    "kiln:base" = var.source_ami
  }
  snapshot_tags = {
    "kiln:name" = "golden"
  }
}

build {
  sources = ["source.amazon-ebs.golden"]

  provisioner "shell" {
    except           = local.offline
    # The shell provisioner passes environment_vars only through {{ .Vars }}.
    execute_command  = "sudo env {{ .Vars }} bash '{{ .Path }}'"
    environment_vars = ["CONTAINER_RUNTIME=docker"]
    scripts = [
      "${path.root}/scripts/install.sh",
      "${path.root}/scripts/harden.sh",
      "${path.root}/scripts/cleanup.sh",
      "${path.root}/scripts/validate.sh",
    ]
  }

  post-processor "manifest" {
    output     = "${path.root}/manifest.json"
    strip_path = true
  }
}
