"""Stack output keys: the program exports them, the CLI and tests read them."""

URL = "url"
ALB_DNS_NAME = "albDnsName"
LISTENER_ARN = "listenerArn"
TARGET_GROUP_ARNS = "targetGroupArns"  # {colour: arn}
ASG_NAMES = "asgNames"  # {colour: name}
LIVE_COLOUR = "liveColour"
TRAFFIC = "traffic"  # {colour: weight}
IMAGES = "images"  # {colour: ami id}
RELEASES = "releases"  # {colour: record digest}
REPOSITORY_URL = "repositoryUrl"
CONTAINER_IMAGE = "containerImage"  # repository@sha256:… or None
VPC_ID = "vpcId"

ALL = (URL, ALB_DNS_NAME, LISTENER_ARN, TARGET_GROUP_ARNS, ASG_NAMES, LIVE_COLOUR, TRAFFIC,
       IMAGES, RELEASES, REPOSITORY_URL, CONTAINER_IMAGE, VPC_ID)
