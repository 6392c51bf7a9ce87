# The amazon-ebs source for Packer 1.6, which rejects metadata_options (ebs.pkr.hcl): kiln
# stages this file instead of ebs.pkr.hcl only for Packer < 1.7, and then only against the
# emulator, where no instance boots (communicator none). The same name and settings as
# ebs.pkr.hcl, minus the build instance's metadata options.
source "amazon-ebs" "golden" {
  region                     = var.region
  instance_type              = var.instance_type
  communicator               = var.communicator
  ssh_username               = var.ssh_username
  custom_endpoint_ec2        = var.ec2_endpoint
  skip_credential_validation = var.ec2_endpoint != ""
  skip_region_validation     = var.ec2_endpoint != ""
  skip_metadata_api_check    = var.ec2_endpoint != ""
  # Only from var.ssh_source_cidrs, as on AWS (the emulator still makes the group).
  temporary_security_group_source_cidrs = var.ssh_source_cidrs

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
