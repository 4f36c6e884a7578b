package sample

import (
	"fmt"
	"path/filepath"
)

// doc is a policy document.
type doc = map[string]any

func policy(statements ...doc) doc {
	list := make([]any, len(statements))
	for i, s := range statements {
		list[i] = s
	}
	return doc{"Version": "2012-10-17", "Statement": list}
}

func allow(action any, resource any) doc {
	return doc{"Effect": "Allow", "Action": action, "Resource": resource}
}

func tags(kv ...string) []any {
	var out []any
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, doc{"Key": kv[i], "Value": kv[i+1]})
	}
	return out
}

// managedPolicy is a GAAD Policies entry with one default version.
func managedPolicy(acct, name string, document doc) doc {
	return doc{
		"PolicyName": name, "PolicyId": "ANPA" + name, "Arn": "arn:aws:iam::" + acct + ":policy/" + name,
		"Path": "/", "DefaultVersionId": "v1", "AttachmentCount": 1, "IsAttachable": true,
		"PolicyVersionList": []any{doc{"Document": document, "VersionId": "v1", "IsDefaultVersion": true}},
	}
}

func trustAccount(acct string) doc {
	return policy(doc{"Effect": "Allow", "Principal": doc{"AWS": "arn:aws:iam::" + acct + ":root"},
		"Action": []any{"sts:AssumeRole", "sts:TagSession"}})
}

func trustService(service string) doc {
	return policy(doc{"Effect": "Allow", "Principal": doc{"Service": service}, "Action": "sts:AssumeRole"})
}

func role(acct, path, name, id string, trust doc, inline map[string]doc, attached []string, boundary string, roleTags []any) doc {
	r := doc{
		"Path": path, "RoleName": name, "RoleId": id, "Arn": "arn:aws:iam::" + acct + ":role" + path + name,
		"CreateDate": "2025-01-01T00:00:00Z", "AssumeRolePolicyDocument": trust, "InstanceProfileList": []any{},
		"RolePolicyList": inlineList(inline), "AttachedManagedPolicies": attachedList(acct, attached), "Tags": roleTags,
	}
	if boundary != "" {
		r["PermissionsBoundary"] = doc{"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": "arn:aws:iam::" + acct + ":policy/" + boundary}
	}
	return r
}

func inlineList(inline map[string]doc) []any {
	out := []any{}
	for name, d := range inline {
		out = append(out, doc{"PolicyName": name, "PolicyDocument": d})
	}
	return out
}

func attachedList(acct string, names []string) []any {
	out := []any{}
	for _, n := range names {
		out = append(out, doc{"PolicyName": n, "PolicyArn": "arn:aws:iam::" + acct + ":policy/" + n})
	}
	return out
}

// gaad returns the account's get-account-authorization-details output.
func gaad(acct string) doc {
	data := "arn:aws:s3:::data-" + acct
	appAccess := policy(
		allow([]any{"s3:GetObject", "s3:PutObject"}, data+"/*"),
		allow("s3:ListBucket", data),
		allow([]any{"kms:Decrypt", "kms:GenerateDataKey"}, "arn:aws:kms:"+region+":"+acct+":key/*"),
		allow([]any{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:PartiQLSelect"}, "arn:aws:dynamodb:"+region+":"+acct+":table/orders"),
		// Granted but never used: the unused-permission report finds these.
		allow("sqs:*", "*"),
		allow([]any{"iam:Get*", "iam:List*"}, "*"),
	)
	deployerBoundary := policy(
		allow([]any{"cloudformation:*", "s3:*", "iam:PassRole", "iam:GetRole", "ec2:Describe*"}, "*"),
		doc{"Effect": "Deny", "Action": []any{"iam:CreateUser", "iam:CreateAccessKey"}, "Resource": "*"},
	)
	return doc{
		"UserDetailList": []any{
			doc{"Path": "/", "UserName": "alice", "UserId": "AIDAALICE" + acct, "Arn": "arn:aws:iam::" + acct + ":user/alice",
				"CreateDate": "2024-01-01T00:00:00Z", "GroupList": []any{"admins"}, "AttachedManagedPolicies": []any{},
				"UserPolicyList": []any{}, "Tags": tags("team", "platform")},
			doc{"Path": "/bots/", "UserName": "legacy-bot", "UserId": "AIDABOT" + acct, "Arn": botARN(acct),
				"CreateDate": "2020-01-01T00:00:00Z", "GroupList": []any{}, "AttachedManagedPolicies": []any{},
				"UserPolicyList": inlineList(map[string]doc{"bot": policy(allow("s3:*", "*"), allow("ec2:Describe*", "*"))}),
				"Tags":           tags()},
		},
		"GroupDetailList": []any{
			doc{"Path": "/", "GroupName": "admins", "GroupId": "AGPAADMINS" + acct, "Arn": "arn:aws:iam::" + acct + ":group/admins",
				"GroupPolicyList": inlineList(map[string]doc{"admin-with-mfa": policy(doc{"Effect": "Allow", "Action": "*", "Resource": "*",
					"Condition": doc{"Bool": doc{"aws:MultiFactorAuthPresent": "true"}}})}),
				"AttachedManagedPolicies": []any{}},
		},
		"RoleDetailList": []any{
			role(acct, "/svc/", "app", "AROAAPP"+acct, trustService("ec2.amazonaws.com"), nil, []string{"AppAccess"}, "", tags("service", "orders")),
			role(acct, "/ci/", "deployer", "AROADEPLOYER"+acct, trustAccount(acct),
				map[string]doc{"deploy": policy(allow([]any{"cloudformation:*", "iam:PassRole", "iam:CreateUser", "ec2:Describe*"}, "*"),
					allow("s3:*", "arn:aws:s3:::artifacts-"+acct+"/*"))}, nil, "DeployerBoundary", tags()),
			role(acct, "/", "analyst", "AROAANALYST"+acct, trustAccount(acct),
				map[string]doc{"abac": policy(allow("s3:GetObject", "arn:aws:s3:::team-${aws:PrincipalTag/team}/*"),
					allow([]any{"athena:StartQueryExecution", "athena:GetQueryResults"}, "*"))}, nil, "", tags("team", "default")),
		},
		"Policies": []any{
			managedPolicy(acct, "AppAccess", appAccess),
			managedPolicy(acct, "DeployerBoundary", deployerBoundary),
		},
	}
}

// organization returns organization.json: SCPs restrict regions and
// leaving the org; an RCP keeps S3 inside the org.
func organization(members int) doc {
	full := doc{"name": "FullAWSAccess", "document": policy(allow("*", "*"))}
	regions := doc{"name": "RegionLock", "document": policy(doc{
		"Effect": "Deny", "NotAction": []any{"iam:*", "sts:*", "organizations:*", "cloudfront:*", "route53:*", "support:*"},
		"Resource":  "*",
		"Condition": doc{"StringNotEquals": doc{"aws:RequestedRegion": []any{"eu-west-1", "us-east-1"}}},
	})}
	noLeave := doc{"name": "DenyLeaveOrg", "document": policy(doc{"Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"})}
	s3InOrg := doc{"name": "S3InsideOrg", "document": policy(doc{
		"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
		"Condition": doc{"StringNotEqualsIfExists": doc{"aws:PrincipalOrgID": orgID}, "BoolIfExists": doc{"aws:PrincipalIsAWSService": "false"}},
	})}
	accounts := []any{doc{"id": mgmtAccount, "parent": "r-samp", "scps": []any{full}, "rcps": []any{}}}
	for i := 0; i < members; i++ {
		accounts = append(accounts, doc{"id": account(i), "parent": "ou-samp-prod", "scps": []any{full}, "rcps": []any{}})
	}
	return doc{
		"organizationId": orgID, "managementAccountId": mgmtAccount,
		"root":     doc{"id": "r-samp", "scps": []any{full}, "rcps": []any{s3InOrg}},
		"ous":      []any{doc{"id": "ou-samp-prod", "parent": "r-samp", "scps": []any{full, regions, noLeave}, "rcps": []any{}}},
		"accounts": accounts,
	}
}

func writeSnapshot(dir string, o Options) error {
	var resources, resourceTags []any
	for i := 0; i < o.Accounts; i++ {
		acct := account(i)
		if err := writeJSON(filepath.Join(dir, fmt.Sprintf("gaad-%s.json", acct)), gaad(acct)); err != nil {
			return err
		}
		data := "arn:aws:s3:::data-" + acct
		resources = append(resources,
			doc{"arn": data, "policy": policy(
				doc{"Effect": "Allow", "Principal": doc{"AWS": "arn:aws:iam::" + acct + ":role/svc/app"}, "Action": "s3:GetObject", "Resource": data + "/*"},
				doc{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": []any{data, data + "/*"},
					"Condition": doc{"Bool": doc{"aws:SecureTransport": "false"}}},
			)},
			doc{"arn": "arn:aws:kms:" + region + ":" + acct + ":key/1111aaaa-" + acct[8:], "policy": policy(
				doc{"Effect": "Allow", "Principal": doc{"AWS": "arn:aws:iam::" + acct + ":root"}, "Action": "kms:*", "Resource": "*"},
			)},
		)
		resourceTags = append(resourceTags, doc{"arn": data, "tags": doc{"env": "prod", "owner": "orders"}})
	}
	if err := writeJSON(filepath.Join(dir, "resource-policies.json"), resources); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, "resource-tags.json"), resourceTags); err != nil {
		return err
	}
	return writeJSON(filepath.Join(dir, "organization.json"), organization(o.Accounts))
}
