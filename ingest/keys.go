package ingest

import "github.com/replay-iam/replay/engine"

// The global condition keys a record determines, resolved once rather than
// by name for every request.
var (
	keyAssumedRoot                  = engine.KeyOf("aws:AssumedRoot")
	keyCalledVia                    = engine.KeyOf("aws:CalledVia")
	keyCalledViaFirst               = engine.KeyOf("aws:CalledViaFirst")
	keyCalledViaLast                = engine.KeyOf("aws:CalledViaLast")
	keyCurrentTime                  = engine.KeyOf("aws:CurrentTime")
	keyEc2InstanceSourcePrivateIPv4 = engine.KeyOf("aws:Ec2InstanceSourcePrivateIPv4")
	keyEc2InstanceSourceVpc         = engine.KeyOf("aws:Ec2InstanceSourceVpc")
	keyEpochTime                    = engine.KeyOf("aws:EpochTime")
	keyFederatedProvider            = engine.KeyOf("aws:FederatedProvider")
	keyMultiFactorAuthAge           = engine.KeyOf("aws:MultiFactorAuthAge")
	keyMultiFactorAuthPresent       = engine.KeyOf("aws:MultiFactorAuthPresent")
	keyPrincipalAccount             = engine.KeyOf("aws:PrincipalAccount")
	keyPrincipalArn                 = engine.KeyOf("aws:PrincipalArn")
	keyPrincipalIsAWSService        = engine.KeyOf("aws:PrincipalIsAWSService")
	keyPrincipalOrgID               = engine.KeyOf("aws:PrincipalOrgID")
	keyPrincipalOrgPaths            = engine.KeyOf("aws:PrincipalOrgPaths")
	keyPrincipalServiceName         = engine.KeyOf("aws:PrincipalServiceName")
	keyPrincipalType                = engine.KeyOf("aws:PrincipalType")
	keyRequestedRegion              = engine.KeyOf("aws:RequestedRegion")
	keyResourceAccount              = engine.KeyOf("aws:ResourceAccount")
	keyResourceOrgID                = engine.KeyOf("aws:ResourceOrgID")
	keyResourceOrgPaths             = engine.KeyOf("aws:ResourceOrgPaths")
	keySecureTransport              = engine.KeyOf("aws:SecureTransport")
	keySourceIdentity               = engine.KeyOf("aws:SourceIdentity")
	keySourceIp                     = engine.KeyOf("aws:SourceIp")
	keySourceVpc                    = engine.KeyOf("aws:SourceVpc")
	keySourceVpce                   = engine.KeyOf("aws:SourceVpce")
	keyTagKeys                      = engine.KeyOf("aws:TagKeys")
	keyTokenIssueTime               = engine.KeyOf("aws:TokenIssueTime")
	keyUserAgent                    = engine.KeyOf("aws:UserAgent")
	keyUserid                       = engine.KeyOf("aws:userid")
	keyUsername                     = engine.KeyOf("aws:username")
	keyViaAWSService                = engine.KeyOf("aws:ViaAWSService")
	keyVpcSourceIp                  = engine.KeyOf("aws:VpcSourceIp")

	// Prefixes marked complete.
	prefixPrincipalTag = engine.KeyOf("aws:PrincipalTag/")
	prefixRequestTag   = engine.KeyOf("aws:RequestTag/")
	prefixResourceTag  = engine.KeyOf("aws:ResourceTag/")
)

// noSessionKeys are the keys that only a session's credentials carry:
// absent for a caller with long-term credentials.
var noSessionKeys = []engine.Key{keyMultiFactorAuthPresent, keyMultiFactorAuthAge, keyTokenIssueTime,
	keySourceIdentity, keyFederatedProvider, keyAssumedRoot, keyEc2InstanceSourceVpc, keyEc2InstanceSourcePrivateIPv4}
