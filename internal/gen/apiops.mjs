// apiops.mjs writes ingest/testdata/api-operations.tsv: the API operations
// of the most used AWS services, as (eventSource, eventName) pairs, from the
// service models shipped in the aws-sdk npm package (v2). CloudTrail logs
// each call under the operation's name; the event source is the service's
// signing name with ".amazonaws.com".
//
// Usage: npm pack aws-sdk@2 && tar xzf aws-sdk-*.tgz && node apiops.mjs package/apis > api-operations.tsv
import fs from "node:fs";

const services = new Set([
  "s3", "s3control", "ec2", "iam", "sts", "kms", "lambda", "dynamodb", "sqs", "sns", "cloudwatchlogs",
  "cloudwatch", "cloudformation", "ecr", "ecs", "eks", "rds", "secretsmanager", "ssm", "cloudtrail",
  "configservice", "eventbridge", "route53", "elbv2", "elb", "autoscaling", "apigateway", "apigatewayv2",
  "glue", "athena", "kinesis", "firehose", "stepfunctions", "codebuild", "codepipeline", "acm",
  "organizations", "sso", "ssoadmin", "identitystore", "guardduty", "securityhub", "backup", "elasticache",
  "cloudfront", "efs", "redshift", "sagemaker", "bedrock", "bedrockruntime", "appsync", "cognitoidentityserviceprovider",
  "wafv2", "accessanalyzer", "resourcegroupstaggingapi", "xray", "ses", "sesv2", "batch", "emr", "opensearch",
  "sfn", "cognitoidentityprovider", "elasticloadbalancingv2", "elasticloadbalancing",
]);

// Event sources that are not the signing name.
const sources = { awsssoportal: "sso.amazonaws.com" };

const dir = process.argv[2];
const latest = {};
for (const f of fs.readdirSync(dir)) {
  const m = f.match(/^(.*)-(\d{4}-\d{2}-\d{2})\.min\.json$/);
  if (!m) continue;
  const [, name, date] = m;
  if (!latest[name] || latest[name].date < date) latest[name] = { date, file: f };
}
const sdkName = (f) => f.replace(/-\d{4}-\d{2}-\d{2}\.min\.json$/, "").toLowerCase();
const lines = new Set();
for (const name of Object.keys(latest).sort()) {
  const model = JSON.parse(fs.readFileSync(`${dir}/${latest[name].file}`, "utf8"));
  const id = (model.metadata.serviceId || "").toLowerCase().replace(/[^a-z0-9]/g, "");
  if (!services.has(sdkName(latest[name].file)) && !services.has(id)) continue;
  const signing = model.metadata.signingName || model.metadata.endpointPrefix;
  const source = sources[signing] || `${signing}.amazonaws.com`;
  for (const op of Object.keys(model.operations).sort()) lines.add(`${source}\t${op}`);
}
process.stdout.write(`# API operations of ${services.size} services from the aws-sdk service models; see internal/gen/apiops.mjs\n`);
process.stdout.write([...lines].sort().join("\n") + "\n");
