"""BlueGreenService: one ALB, two colour fleets, a listener forwarding by weight.

Only the ALB is public. Instances accept the service port from the ALB's security group
and nothing else — no port 22 or 3389 anywhere. The listener depends on the serving
colours' ASGs, whose creation waits for healthy targets, so inside one `pulumi up` a
failed deploy never moves traffic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from kiln.model import naming
from kiln.model.stack import COLOURS, StackSettings
from kiln.model.topology import colour_capacity, weights
from kiln.program.components.fleet import Fleet, FleetArgs

HTTP, HTTPS = 80, 443
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


@dataclass(frozen=True)
class BlueGreenArgs:
    settings: StackSettings
    vpc_id: pulumi.Input[str]
    public_subnet_ids: Sequence[pulumi.Input[str]]
    private_subnet_ids: Sequence[pulumi.Input[str]]
    instance_profile_arn: pulumi.Input[str]
    container: pulumi.Input[str | None] = None


class BlueGreenService(pulumi.ComponentResource):
    url: pulumi.Output[str]
    dns_name: pulumi.Output[str]
    listener_arn: pulumi.Output[str]
    fleets: dict[str, Fleet]

    def __init__(self, name: str, args: BlueGreenArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kiln:bluegreen:BlueGreenService", name, None, opts)
        here = pulumi.ResourceOptions(parent=self)
        s = args.settings
        tags = naming.base_tags(s.service.name, s.stack)
        alb_sg, instance_sg = self._security_groups(name, args, tags, here)
        alb = aws.lb.LoadBalancer(
            naming.child(name, "alb"), load_balancer_type="application", internal=False,
            subnets=args.public_subnet_ids, security_groups=[alb_sg.id],
            drop_invalid_header_fields=True, tags=tags, opts=here)
        self.fleets = {
            colour: Fleet(naming.child(name, colour), FleetArgs(
                colour=colour, service=s.service, release=s.release(colour),
                capacity=colour_capacity(s, colour), vpc_id=args.vpc_id,
                subnet_ids=args.private_subnet_ids, security_group_id=instance_sg.id,
                instance_profile_arn=args.instance_profile_arn,
                tags=naming.colour_tags(s.service.name, s.stack, colour),
                container=args.container), opts=here)
            for colour in COLOURS}
        split = weights(s.live, s.traffic)
        forward = aws.lb.ListenerDefaultActionArgs(
            type="forward",
            forward=aws.lb.ListenerDefaultActionForwardArgs(target_groups=[
                aws.lb.ListenerDefaultActionForwardTargetGroupArgs(
                    arn=self.fleets[c].target_group_arn, weight=split[c]) for c in COLOURS]))
        # Traffic may move only once every colour that will serve it is healthy.
        serving = [self.fleets[c].asg for c in COLOURS if split[c] > 0]
        gated = pulumi.ResourceOptions(parent=self, depends_on=serving)
        listener_tags = {**tags, naming.TAG_ROLE: naming.ROLE_LISTENER}
        if s.certificate_arn:
            listener = aws.lb.Listener(
                naming.child(name, "https"), load_balancer_arn=alb.arn, port=HTTPS,
                protocol="HTTPS", certificate_arn=s.certificate_arn, ssl_policy=TLS_POLICY,
                default_actions=[forward], tags=listener_tags, opts=gated)
            aws.lb.Listener(
                naming.child(name, "http"), load_balancer_arn=alb.arn, port=HTTP,
                protocol="HTTP", default_actions=[aws.lb.ListenerDefaultActionArgs(
                    type="redirect", redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                        port=str(HTTPS), protocol="HTTPS", status_code="HTTP_301"))],
                tags=tags, opts=here)
            scheme = "https"
        else:
            listener = aws.lb.Listener(
                naming.child(name, "http"), load_balancer_arn=alb.arn, port=HTTP,
                protocol="HTTP", default_actions=[forward], tags=listener_tags, opts=gated)
            scheme = "http"
        self.dns_name = alb.dns_name
        self.url = alb.dns_name.apply(lambda dns: f"{scheme}://{dns}/")
        self.listener_arn = listener.arn
        self.register_outputs({"url": self.url, "listenerArn": self.listener_arn})

    def _security_groups(self, name: str, args: BlueGreenArgs, tags: dict[str, str],
                         here: pulumi.ResourceOptions
                         ) -> tuple[aws.ec2.SecurityGroup, aws.ec2.SecurityGroup]:
        s = args.settings
        port = s.service.port
        # Groups carry no inline rules (and so no default allow-all egress); the rules are
        # separate resources so the two groups can reference each other without a cycle.
        alb_sg = aws.ec2.SecurityGroup(
            naming.child(name, "alb-sg"), vpc_id=args.vpc_id,
            description=f"{s.service.name} load balancer",
            tags={**tags, naming.TAG_ROLE: naming.ROLE_ALB}, opts=here)
        instance_sg = aws.ec2.SecurityGroup(
            naming.child(name, "instance-sg"), vpc_id=args.vpc_id,
            description=f"{s.service.name} instances: service port from the ALB only",
            tags={**tags, naming.TAG_ROLE: naming.ROLE_INSTANCES}, opts=here)
        public_ports = [HTTP, HTTPS] if s.certificate_arn else [HTTP]
        for listen in public_ports:
            for family, cidr in (("ipv4", "0.0.0.0/0"), ("ipv6", "::/0")):
                aws.vpc.SecurityGroupIngressRule(
                    naming.child(name, "alb-in", str(listen), family),
                    security_group_id=alb_sg.id, ip_protocol="tcp", from_port=listen,
                    to_port=listen, description=f"public {listen}",
                    tags=tags, opts=here,
                    **({"cidr_ipv4": cidr} if family == "ipv4" else {"cidr_ipv6": cidr}))
        aws.vpc.SecurityGroupEgressRule(
            naming.child(name, "alb-out"), security_group_id=alb_sg.id, ip_protocol="tcp",
            from_port=port, to_port=port, referenced_security_group_id=instance_sg.id,
            description="to instances on the service port", tags=tags, opts=here)
        aws.vpc.SecurityGroupIngressRule(
            naming.child(name, "instance-in"), security_group_id=instance_sg.id,
            ip_protocol="tcp", from_port=port, to_port=port,
            referenced_security_group_id=alb_sg.id, description="service port from the ALB",
            tags=tags, opts=here)
        return alb_sg, instance_sg
