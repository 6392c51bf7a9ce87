"""Create in an AWS API what ``pulumi up`` would create for a captured stack.

The input is the resource graph of the real program's mock run (:mod:`kiln.preview.capture`), so
names, tags and wiring stay in step with the components by construction. Resources are
created in registration order, which respects data dependencies (a resource registers only
once its inputs resolved); stand-in ids and ARNs from the mock run are replaced by the
real ones as they appear. Used against the local emulator, where no Pulumi CLI exists, to
stand up a deployed stack for operations that bypass Pulumi (rollback, status, retire).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kiln.aws.clients import client
from kiln.preview.properties import plain

log = logging.getLogger(__name__)


@dataclass
class Mirror:
    """What was created: stand-in reference → real reference, and per-URN real ids."""

    region: str
    refs: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def real(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.refs.get(value, value)
        if isinstance(value, list):
            return [self.real(v) for v in value]
        if isinstance(value, Mapping):
            return {k: self.real(v) for k, v in value.items()}
        return value


def _tags(tags: Mapping[str, str] | None) -> list[dict[str, str]]:
    return [{"Key": k, "Value": str(v)} for k, v in (tags or {}).items()]


def _int(value: Any) -> int:
    return int(float(value))


def _permission(rule: Mapping[str, Any]) -> dict[str, Any]:
    perm: dict[str, Any] = {"IpProtocol": str(rule["ipProtocol"])}
    if "fromPort" in rule:
        perm["FromPort"], perm["ToPort"] = _int(rule["fromPort"]), _int(rule["toPort"])
    if rule.get("cidrIpv4"):
        perm["IpRanges"] = [{"CidrIp": rule["cidrIpv4"]}]
    if rule.get("cidrIpv6"):
        perm["Ipv6Ranges"] = [{"CidrIpv6": rule["cidrIpv6"]}]
    if rule.get("referencedSecurityGroupId"):
        perm["UserIdGroupPairs"] = [{"GroupId": rule["referencedSecurityGroupId"]}]
    return perm


def _action(action: Mapping[str, Any]) -> dict[str, Any]:
    if action["type"] == "redirect":
        redirect = action["redirect"]
        return {"Type": "redirect", "RedirectConfig": {
            "Protocol": redirect["protocol"], "Port": str(redirect["port"]),
            "StatusCode": redirect["statusCode"]}}
    groups = action["forward"]["targetGroups"]
    return {"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": g["arn"], "Weight": _int(g.get("weight", 1))} for g in groups]}}


def _launch_data(i: Mapping[str, Any]) -> dict[str, Any]:
    meta = i.get("metadataOptions", {})
    data: dict[str, Any] = {
        "ImageId": i["imageId"], "InstanceType": i["instanceType"],
        "MetadataOptions": {"HttpTokens": meta.get("httpTokens", "optional"),
                            "HttpPutResponseHopLimit": _int(meta.get(
                                "httpPutResponseHopLimit", 1)),
                            "HttpEndpoint": meta.get("httpEndpoint", "enabled")},
        "NetworkInterfaces": [{
            "DeviceIndex": 0, "Groups": n.get("securityGroups", []),
            "AssociatePublicIpAddress": n.get("associatePublicIpAddress") == "true",
            "DeleteOnTermination": True} for n in i.get("networkInterfaces", [])],
        "BlockDeviceMappings": [{
            "DeviceName": b["deviceName"], "Ebs": {
                "Encrypted": b["ebs"].get("encrypted") == "true",
                "VolumeSize": _int(b["ebs"].get("volumeSize", 8)),
                "VolumeType": b["ebs"].get("volumeType", "gp3"),
                "DeleteOnTermination": True}} for b in i.get("blockDeviceMappings", [])],
        "TagSpecifications": [{"ResourceType": t["resourceType"], "Tags": _tags(t["tags"])}
                              for t in i.get("tagSpecifications", [])],
    }
    if i.get("iamInstanceProfile", {}).get("arn"):
        data["IamInstanceProfile"] = {"Arn": i["iamInstanceProfile"]["arn"]}
    if i.get("keyName"):
        data["KeyName"] = i["keyName"]
    if i.get("userData"):
        data["UserData"] = i["userData"]
    return data


Creator = Callable[[Mirror, str, Mapping[str, Any]], dict[str, str]]


def _vpc(m: Mirror, name: str, i: Mapping[str, Any]) -> dict[str, str]:
    ec2 = client("ec2", m.region)
    vpc = ec2.create_vpc(CidrBlock=i["cidrBlock"], TagSpecifications=[
        {"ResourceType": "vpc", "Tags": _tags(i.get("tags"))}])["Vpc"]["VpcId"]
    return {"id": vpc}


def _subnet(m: Mirror, name: str, i: Mapping[str, Any]) -> dict[str, str]:
    ec2 = client("ec2", m.region)
    subnet = ec2.create_subnet(VpcId=i["vpcId"], CidrBlock=i["cidrBlock"],
                               AvailabilityZone=i["availabilityZone"], TagSpecifications=[
                                   {"ResourceType": "subnet", "Tags": _tags(i.get("tags"))}])
    return {"id": subnet["Subnet"]["SubnetId"]}


def _igw(m: Mirror, name: str, i: Mapping[str, Any]) -> dict[str, str]:
    ec2 = client("ec2", m.region)
    igw = ec2.create_internet_gateway(TagSpecifications=[
        {"ResourceType": "internet-gateway", "Tags": _tags(i.get("tags"))}])
    gateway = igw["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=i["vpcId"])
    return {"id": gateway}


def _route_table(m: Mirror, name: str, i: Mapping[str, Any]) -> dict[str, str]:
    ec2 = client("ec2", m.region)
    table = ec2.create_route_table(VpcId=i["vpcId"], TagSpecifications=[
        {"ResourceType": "route-table", "Tags": _tags(i.get("tags"))}])["RouteTable"]
    for route in i.get("routes", []):
        ec2.create_route(RouteTableId=table["RouteTableId"],
                         DestinationCidrBlock=route["cidrBlock"], GatewayId=route["gatewayId"])
    return {"id": table["RouteTableId"]}


def _association(m: Mirror, name: str, i: Mapping[str, Any]) -> dict[str, str]:
    ec2 = client("ec2", m.region)
    assoc = ec2.associate_route_table(SubnetId=i["subnetId"], RouteTableId=i["routeTableId"])
    return {"id": assoc["AssociationId"]}


def _security_group(m: Mirror, name: str, i: Mapping[str, Any]) -> dict[str, str]:
    ec2 = client("ec2", m.region)
    group = ec2.create_security_group(
        GroupName=name, Description=i.get("description", name), VpcId=i["vpcId"],
        TagSpecifications=[{"ResourceType": "security-group",
                            "Tags": _tags(i.get("tags"))}])["GroupId"]
    # As Pulumi's provider does: a group declared without egress has none.
    described = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]
    if described.get("IpPermissionsEgress"):
        ec2.revoke_security_group_egress(GroupId=group,
                                         IpPermissions=described["IpPermissionsEgress"])
    return {"id": group}


def _ingress(m: Mirror, name: str, i: Mapping[str, Any]) -> dict[str, str]:
    ec2 = client("ec2", m.region)
    rule = ec2.authorize_security_group_ingress(GroupId=i["securityGroupId"],
                                                IpPermissions=[_permission(i)])
    return {"id": rule["SecurityGroupRules"][0]["SecurityGroupRuleId"]}


def _egress(m: Mirror, name: str, i: Mapping[str, Any]) -> dict[str, str]:
    ec2 = client("ec2", m.region)
    rule = ec2.authorize_security_group_egress(GroupId=i["securityGroupId"],
                                               IpPermissions=[_permission(i)])
    return {"id": rule["SecurityGroupRules"][0]["SecurityGroupRuleId"]}


def _role(m: Mirror, name: str, i: Mapping[str, Any]) -> dict[str, str]:
    iam = client("iam", m.region)
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=i["assumeRolePolicy"],
                           Tags=_tags(i.get("tags")))["Role"]
    return {"id": role["RoleName"], "arn": role["Arn"], "name": role["RoleName"]}


def _profile(m: Mirror, name: str, i: Mapping[str, Any]) -> dict[str, str]:
    iam = client("iam", m.region)
    profile = iam.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=i["role"])
    return {"id": name, "arn": profile["Arn"]}


def _repository(m: Mirror, name: str, i: Mapping[str, Any]) -> dict[str, str]:
    ecr = client("ecr", m.region)
    repo = ecr.create_repository(
        repositoryName=name, imageTagMutability=i.get("imageTagMutability", "MUTABLE"),
        imageScanningConfiguration={"scanOnPush": bool(
            i.get("imageScanningConfiguration", {}).get("scanOnPush"))},
        tags=_tags(i.get("tags")))["repository"]
    return {"id": name, "arn": repo["repositoryArn"], "repositoryUrl": repo["repositoryUri"]}


def _load_balancer(m: Mirror, name: str, i: Mapping[str, Any]) -> dict[str, str]:
    elb = client("elbv2", m.region)
    lb = elb.create_load_balancer(
        Name=name, Subnets=i["subnets"], SecurityGroups=i.get("securityGroups", []),
        Scheme="internal" if i.get("internal") else "internet-facing", Type="application",
        Tags=_tags(i.get("tags")))["LoadBalancers"][0]
    return {"id": lb["LoadBalancerArn"], "arn": lb["LoadBalancerArn"],
            "dnsName": lb["DNSName"]}


def _target_group(m: Mirror, name: str, i: Mapping[str, Any]) -> dict[str, str]:
    elb = client("elbv2", m.region)
    health = i.get("healthCheck", {})
    group = elb.create_target_group(
        Name=name, Protocol=i.get("protocol", "HTTP"), Port=_int(i["port"]),
        VpcId=i["vpcId"], TargetType=i.get("targetType", "instance"),
        HealthCheckPath=health.get("path", "/"), Matcher={"HttpCode": health.get("matcher",
                                                                                  "200")},
        Tags=_tags(i.get("tags")))["TargetGroups"][0]
    return {"id": group["TargetGroupArn"], "arn": group["TargetGroupArn"]}


def _listener(m: Mirror, name: str, i: Mapping[str, Any]) -> dict[str, str]:
    elb = client("elbv2", m.region)
    extra: dict[str, Any] = {}
    if i.get("certificateArn"):
        extra["Certificates"] = [{"CertificateArn": i["certificateArn"]}]
        extra["SslPolicy"] = i.get("sslPolicy")
    listener = elb.create_listener(
        LoadBalancerArn=i["loadBalancerArn"], Protocol=i["protocol"], Port=_int(i["port"]),
        DefaultActions=[_action(a) for a in i["defaultActions"]], Tags=_tags(i.get("tags")),
        **{k: v for k, v in extra.items() if v})["Listeners"][0]
    return {"id": listener["ListenerArn"], "arn": listener["ListenerArn"]}


def _launch_template(m: Mirror, name: str, i: Mapping[str, Any]) -> dict[str, str]:
    ec2 = client("ec2", m.region)
    template = ec2.create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData=_launch_data(i),
        TagSpecifications=[{"ResourceType": "launch-template",
                            "Tags": _tags(i.get("tags"))}])["LaunchTemplate"]
    return {"id": template["LaunchTemplateId"]}


def _asg(m: Mirror, name: str, i: Mapping[str, Any]) -> dict[str, str]:
    autoscaling = client("autoscaling", m.region)
    template = i["launchTemplate"]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateId": template["id"], "Version": str(template["version"])},
        MinSize=_int(i["minSize"]), MaxSize=_int(i["maxSize"]),
        DesiredCapacity=_int(i.get("desiredCapacity", i["minSize"])),
        VPCZoneIdentifier=",".join(i["vpcZoneIdentifiers"]),
        TargetGroupARNs=i.get("targetGroupArns", []),
        HealthCheckType=i.get("healthCheckType", "EC2"),
        HealthCheckGracePeriod=_int(i.get("healthCheckGracePeriod", 0)),
        Tags=[{"Key": t["key"], "Value": t["value"],
               "PropagateAtLaunch": bool(t.get("propagateAtLaunch"))} for t in i.get("tags", [])])
    warm = i.get("warmPool")
    if warm:
        autoscaling.put_warm_pool(AutoScalingGroupName=name, MinSize=_int(warm["minSize"]),
                                  PoolState=warm.get("poolState", "Stopped"))
    return {"id": name, "name": name}


CREATORS: dict[str, Creator] = {
    "aws:ec2/vpc:Vpc": _vpc,
    "aws:ec2/subnet:Subnet": _subnet,
    "aws:ec2/internetGateway:InternetGateway": _igw,
    "aws:ec2/routeTable:RouteTable": _route_table,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _association,
    "aws:ec2/securityGroup:SecurityGroup": _security_group,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _ingress,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _egress,
    "aws:iam/role:Role": _role,
    "aws:iam/instanceProfile:InstanceProfile": _profile,
    "aws:ecr/repository:Repository": _repository,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:lb/targetGroup:TargetGroup": _target_group,
    "aws:lb/listener:Listener": _listener,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:autoscaling/group:Group": _asg,
}


def create(resources: list[Any], region: str) -> Mirror:
    """Create every captured custom resource (``CapturedResource``-like objects)."""
    mirror = Mirror(region)
    for res in resources:
        if not res.custom:
            continue
        creator = CREATORS.get(res.type)
        if creator is None:
            raise ValueError(f"cannot mirror resource type {res.type} ({res.name})")
        inputs = mirror.real(plain(res.inputs))
        physical = str(res.outputs.get("name") or res.name)
        made = creator(mirror, physical, inputs)
        mirror.ids[res.urn] = made["id"]
        for key in ("id", "arn", "name"):
            stand_in = res.id if key == "id" else res.outputs.get(key)
            if stand_in and key in made:
                mirror.refs[str(stand_in)] = made[key]
        log.debug("mirrored %s %s as %s", res.type, res.name, made["id"])
    return mirror
