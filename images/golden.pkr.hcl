# Golden AMI: the hardened base every app AMI starts from. A container runtime, no sshd
# enabled, no authorized keys, cloud-init ignores user data, no package timers or
# repositories left to patch with at boot. validate.sh fails the bake otherwise.

build {
  # The shared amazon-ebs source (variables.pkr.hcl), filled in for the golden image.
  source "amazon-ebs.golden" {
    source_ami      = var.source_ami
    ami_name        = "kiln-golden-${local.stamp}"
    ami_description = "kiln golden image (hardened base with a container runtime)"

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

  provisioner "shell" {
    except = local.offline
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
