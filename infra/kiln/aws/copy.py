"""Copy an AMI to another region, encrypted, for a cross-region promotion."""

from __future__ import annotations

from kiln.aws.clients import client
from kiln.model import naming


def find_copy(target_region: str, record: str) -> str | None:
    """An earlier copy of ``record``'s image in ``target_region`` (tagged kiln:copy-of)."""
    ec2 = client("ec2", target_region)
    images = ec2.describe_images(Owners=["self"], Filters=[
        {"Name": f"tag:{naming.TAG_COPY_OF}", "Values": [record]}])["Images"]
    return images[0]["ImageId"] if images else None


def copy_image(source_image: str, source_region: str, target_region: str, name: str,
               tags: dict[str, str]) -> str:
    """Start an encrypted copy and wait until it is available; return the new AMI id.

    The copy is tagged at creation (``kiln:copy-of`` = the source record), so a rerun after
    a crash finds it with :func:`find_copy` instead of copying twice.
    """
    ec2 = client("ec2", target_region)
    copied = ec2.copy_image(SourceImageId=source_image, SourceRegion=source_region,
                            Name=name, Encrypted=True,
                            Description=f"kiln copy of {source_image} from {source_region}",
                            TagSpecifications=[{"ResourceType": "image", "Tags": [
                                {"Key": k, "Value": v} for k, v in tags.items()]}])
    image = copied["ImageId"]
    # Tag again in case the API ignored TagSpecifications (harmless when it did not).
    ec2.create_tags(Resources=[image], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    ec2.get_waiter("image_available").wait(ImageIds=[image],
                                            WaiterConfig={"Delay": 5, "MaxAttempts": 120})
    return image


def tag_release(region: str, image: str, record: str, signature: str, key_id: str) -> None:
    """Tag a copy like a bake: the record that describes it and its signature."""
    client("ec2", region).create_tags(Resources=[image], Tags=[
        {"Key": naming.TAG_RELEASE, "Value": record},
        {"Key": naming.TAG_SIGNATURE, "Value": signature},
        {"Key": naming.TAG_SIGNATURE_KEY, "Value": key_id}])
