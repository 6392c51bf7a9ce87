"""AWS provider type tokens the rules dispatch on."""

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"

KEY_PAIR = "aws:ec2/keyPair:KeyPair"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
SPOT_REQUEST = "aws:ec2/spotInstanceRequest:SpotInstanceRequest"
LAUNCH_CONFIGURATION = "aws:ec2/launchConfiguration:LaunchConfiguration"
ASG = "aws:autoscaling/group:Group"
INSTANCE_CONNECT_ENDPOINT = "aws:ec2transitgateway/instanceConnectEndpoint:InstanceConnectEndpoint"

SSM_ASSOCIATION = "aws:ssm/association:Association"
SSM_WINDOW_TASK = "aws:ssm/maintenanceWindowTask:MaintenanceWindowTask"
SSM_DOCUMENT = "aws:ssm/document:Document"

IAM_ROLE = "aws:iam/role:Role"
IAM_ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
IAM_ROLE_POLICY_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
IAM_POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
IAM_ROLE_ATTACHMENTS_EXCLUSIVE = \
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive"
IAM_POLICY = "aws:iam/policy:Policy"
IAM_INSTANCE_PROFILE = "aws:iam/instanceProfile:InstanceProfile"

ECR_REPOSITORY = "aws:ecr/repository:Repository"
ECS_TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
LAMBDA_FUNCTION = "aws:lambda/function:Function"

# The alb module's types are aliases of the lb ones, registered under their own tokens.
LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
TARGET_GROUPS = ("aws:lb/targetGroup:TargetGroup", "aws:alb/targetGroup:TargetGroup")

# Types that launch instances or hold ingress outside a kiln fleet, or run commands.
DEFAULT_SECURITY_GROUP = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
NETWORK_ACL = "aws:ec2/networkAcl:NetworkAcl"
DEFAULT_NETWORK_ACL = "aws:ec2/defaultNetworkAcl:DefaultNetworkAcl"
NETWORK_ACL_RULE = "aws:ec2/networkAclRule:NetworkAclRule"
SPOT_FLEET = "aws:ec2/spotFleetRequest:SpotFleetRequest"
EC2_FLEET = "aws:ec2/fleet:Fleet"
LIGHTSAIL_INSTANCE = "aws:lightsail/instance:Instance"
LIGHTSAIL_PORTS = "aws:lightsail/instancePublicPorts:InstancePublicPorts"
CLOUDFORMATION_STACK = "aws:cloudformation/stack:Stack"
CLOUDFORMATION_STACK_SET = "aws:cloudformation/stackSet:StackSet"
NATIVE_SECURITY_GROUP = "aws-native:ec2:SecurityGroup"
NATIVE_INGRESS = "aws-native:ec2:SecurityGroupIngress"
NATIVE_INSTANCE = "aws-native:ec2:Instance"
SSM_SERVICE_SETTING = "aws:ssm/serviceSetting:ServiceSetting"
SSM_DEFAULT_PATCH_BASELINE = "aws:ssm/defaultPatchBaseline:DefaultPatchBaseline"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
SCHEDULE = "aws:scheduler/schedule:Schedule"
ECS_SERVICE = "aws:ecs/service:Service"
REMOTE_COMMANDS = ("command:remote:Command", "command:remote:CopyFile",
                   "command:remote:CopyToRemote")
LOCAL_COMMAND = "command:local:Command"
