# The one amazon-ebs source, for Packer >= 1.7: how a build instance is launched and
# reached. Each build fills in what differs (base AMI, AMI name, description, tags); Packer
# refuses to set an argument twice, so nothing image-specific belongs here.
#
# Packer 1.6 rejects metadata_options, so kiln stages this file only for Packer >= 1.7 and
# ebs-1.6.pkr.hcl (the emulator's stand-in, no instance boots) for older ones; kiln refuses
# an amazon-ebs bake on AWS with Packer < 1.7.
#
# It is named after the golden bake, its real-AWS use: Packer 1.6 names a manifest entry
# and an inspect listing after this label, not after a build's `name`, so golden keeps its
# name everywhere and the app's emulator stand-in reuses it as amazon-ebs.app.
source "amazon-ebs" "golden" {
  region                     = var.region
  instance_type              = var.instance_type
  communicator               = var.communicator
  ssh_username               = var.ssh_username
  custom_endpoint_ec2        = var.ec2_endpoint
  skip_credential_validation = var.ec2_endpoint != ""
  skip_region_validation     = var.ec2_endpoint != ""
  skip_metadata_api_check    = var.ec2_endpoint != ""
  # SSH only from var.ssh_source_cidrs (validated: never 0.0.0.0/0 or ::/0).
  temporary_security_group_source_cidrs = var.ssh_source_cidrs

  # The build instance answers IMDSv2 only (a session token, one hop: nothing in a
  # container or behind a forwarded port can read the instance's credentials).
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  launch_block_device_mappings {
    device_name           = "/dev/xvda"
    volume_size           = var.root_volume_gb
    volume_type           = "gp3"
    throughput            = 125
    iops                  = 3000
    encrypted             = true
    delete_on_termination = true
  }
}
