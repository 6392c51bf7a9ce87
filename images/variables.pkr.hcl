# What golden.pkr.hcl, app.pkr.hcl and container.pkr.hcl share: typed variables and locals
# (kiln stages this file with every template, so it is the place for anything two templates
# need). The amazon-ebs source the golden and app builds fill in is in ebs.pkr.hcl.
#
# Pins live in release.auto.pkrvars.hcl. kiln passes the rest with -var: the resolved
# base image, the emulator endpoint and communicator, the input hash. (Which source of a
# template is built is not a variable: kiln selects it with -only.) Packer 1.6 rejects
# any declared variable left without a value, even one the chosen template does not use,
# so values kiln supplies default to "".

variable "region" {
  type        = string
  description = "AWS region the AMI is baked in."
}

variable "ec2_endpoint" {
  type        = string
  default     = ""
  description = "EC2 API endpoint; empty for AWS, the emulator's URL for local bakes."
}

variable "communicator" {
  type        = string
  default     = "ssh"
  description = "amazon-ebs sources: ssh on AWS; none against the emulator, where no instance boots and provisioners are skipped."
}

variable "ssh_username" {
  type        = string
  description = "Login user of the base AMI while it is baked; cleanup.sh removes its keys."
}

variable "ssh_source_cidrs" {
  type        = list(string)
  default     = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
  description = "amazon-ebs on AWS: the only sources Packer's temporary security group lets reach SSH on the build instance. The default admits a runner inside the VPC baking into a subnet without public addresses; a runner outside passes its own address, e.g. [\"203.0.113.7/32\"]."

  # An empty list would make Packer open SSH to 0.0.0.0/0.
  validation {
    condition     = length(var.ssh_source_cidrs) > 0 && length(setintersection(var.ssh_source_cidrs, ["0.0.0.0/0", "::/0"])) == 0
    error_message = "The ssh_source_cidrs value must name the runner's own addresses, e.g. [\"203.0.113.7/32\"]: not empty, not 0.0.0.0/0, not ::/0."
  }
}

variable "instance_type" {
  type        = string
  description = "Instance type of the temporary build instance."
}

variable "root_volume_gb" {
  type        = number
  description = "Size of the encrypted gp3 root volume in GiB."
}

variable "source_ami" {
  type        = string
  default     = ""
  description = "Base AMI id of the golden image; kiln resolves it from source_ami_name and source_ami_owner."
}

variable "source_ami_name" {
  type        = string
  description = "Name filter of the golden image's base AMI (newest match wins)."
}

variable "source_ami_owner" {
  type        = string
  description = "Owner account of the golden image's base AMI."
}

variable "golden_ami" {
  type        = string
  default     = ""
  description = "Golden AMI the app AMI is baked from; kiln takes it from the newest golden record."
}

variable "container_image" {
  type        = string
  default     = ""
  description = "Container the app AMI carries, as repository@sha256:digest; kiln takes it from the newest container record."
}

variable "chroot_device_path" {
  type        = string
  default     = ""
  description = "App bake on AWS: device the golden volume is attached as on the bake host, e.g. /dev/sdf; empty picks a free one."
}

variable "chroot_nvme_device_path" {
  type        = string
  default     = ""
  description = "App bake on AWS: the attached volume's partition prefix on a Nitro bake host without EBS device links, e.g. /dev/nvme1n1p."
}

variable "app_port" {
  type        = number
  description = "Port the app container listens on, published on the instance."
}

variable "app_release" {
  type        = string
  description = "Release id the sample service serves on / and /healthz."
}

variable "container_base" {
  type        = string
  description = "Base image of the container image."
}

variable "container_pull" {
  type        = bool
  description = "Pull container_base before the build (false for a base built locally)."
}

variable "repository" {
  type        = string
  default     = ""
  description = "Registry repository the container image is pushed to, e.g. 127.0.0.1:5000/kiln/web."
}

variable "image_tag" {
  type        = string
  default     = ""
  description = "Registry tag of the container image; kiln derives it from the input hash."
}

variable "input_hash" {
  type        = string
  default     = ""
  description = "kiln's hash of everything that determines the image (set by kiln)."
}

locals {
  # Provisioners need a connection; against the emulator (communicator none) no instance
  # runs, so the golden source skips them there and only there. (The app's provisioners
  # run in amazon-chroot.app only.)
  offline = var.communicator == "none" ? ["amazon-ebs.golden"] : []
  stamp   = "${formatdate("YYYYMMDD-hhmmss", timestamp())}-${substr(uuidv4(), 0, 8)}"
}
