# App AMI: the golden AMI plus the app container, pulled once at bake time by digest into
# the runtime's image store and run by a systemd unit pinned to that digest. Nothing is
# pulled or installed at boot, so the container reaches the fleets inside the AMI.

source "amazon-ebs" "app" {
  region                     = var.region
  source_ami                 = var.golden_ami
  instance_type              = var.instance_type
  ami_name                   = "kiln-app-${local.stamp}"
  ami_description            = "kiln app image: ${var.container_image}"
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


  tags = {
    Name             = "kiln-app"
    "kiln:name"      = "app"
    "kiln:base"      = var.golden_ami
    "kiln:container" = var.container_image
  }
  snapshot_tags = {
    "kiln:name" = "app"
  }
}

build {
  sources = ["source.amazon-ebs.app"]

  provisioner "shell" {
    except          = local.offline
    execute_command = "sudo -E bash '{{ .Path }}'"
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
