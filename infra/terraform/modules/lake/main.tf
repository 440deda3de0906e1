# S3 for the platform's data: the landing zone (raw SDK batches and cost reports), the Delta lake,
# MLflow's artifact store, and the bucket receiving the three buckets' server access logs.
# One CMK encrypts the data buckets (SSE-KMS with bucket keys); policies.tf holds the bucket policies,
# lifecycle.tf the retention, iam.tf the per-prefix IAM policies.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region

  # the data buckets (SSE-KMS, access-logged); key = the role of the bucket
  data_buckets = {
    landing   = "${var.name}-landing"
    lake      = "${var.name}-lake"
    artifacts = "${var.name}-mlflow-artifacts"
  }
  access_logs_bucket = "${var.name}-access-logs"
}

# --- the CMK ---------------------------------------------------------------------------------------

# A key policy: "Resource": "*" inside a key policy means this key (KMS accepts nothing else there).
# Use of the key is granted by the IAM policies of iam.tf (the root statement delegates to IAM).
data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:KMS key policy; Resource "*" is this key only, and the account root must keep key administration (else the key becomes unmanageable)
  #checkov:skip=CKV_AWS_111:KMS key policy; Resource "*" is this key only; data-plane use is granted per role by the IAM policies in iam.tf
  #checkov:skip=CKV_AWS_356:KMS key policy; "*" is the only resource a key policy accepts and denotes this key
  statement {
    sid       = "AccountAdministrationAndIamDelegation"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.name} landing, lake and MLflow artifact buckets"
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.kms.json

  tags = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}-lake"
  target_key_id = aws_kms_key.this.key_id
}

# --- the data buckets ------------------------------------------------------------------------------

resource "aws_s3_bucket" "data" {
  for_each = local.data_buckets
  #checkov:skip=CKV_AWS_144:no cross-region replication, by choice (README "Replication"): it needs a second-region provider alias in every caller, doubles storage, and a replica of raw identifiers is one more copy erasure and the 30-day limit must reach
  #checkov:skip=CKV2_AWS_62:event notifications go to EventBridge from the landing bucket only (aws_s3_bucket_notification.landing); nothing reacts to lake or artifact writes (Dagster reads the Delta log), so notifications there would have no consumer

  bucket        = each.value
  force_destroy = var.force_destroy

  tags = merge(var.tags, { Name = each.value, Role = each.key })
}

resource "aws_s3_bucket_ownership_controls" "data" {
  for_each = local.data_buckets

  bucket = aws_s3_bucket.data[each.key].id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "data" {
  for_each = local.data_buckets

  bucket                  = aws_s3_bucket.data[each.key].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "data" {
  for_each = local.data_buckets

  bucket = aws_s3_bucket.data[each.key].id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "data" {
  for_each = local.data_buckets

  bucket = aws_s3_bucket.data[each.key].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_logging" "data" {
  for_each = local.data_buckets

  bucket        = aws_s3_bucket.data[each.key].id
  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "${each.value}/"

  target_object_key_format {
    partitioned_prefix {
      partition_date_source = "EventTime"
    }
  }

  depends_on = [aws_s3_bucket_policy.access_logs]
}

# Object-created/removed events of the landing zone to EventBridge (no charge from S3): lets a
# sensor react to new batches through an EventBridge rule and SQS instead of listing.
resource "aws_s3_bucket_notification" "landing" {
  bucket      = aws_s3_bucket.data["landing"].id
  eventbridge = true
}

# --- the access-log bucket -------------------------------------------------------------------------

resource "aws_s3_bucket" "access_logs" {
  #checkov:skip=CKV_AWS_18:this is the access-log target; logging it into itself would log every log delivery, and another log bucket would only move the question
  #checkov:skip=CKV_AWS_144:access logs are not replicated (see README "Replication"); they expire after access_log_days
  #checkov:skip=CKV_AWS_145:S3 server access logging only delivers to a target bucket whose default encryption is SSE-S3 (AES256); SSE-KMS default encryption is not supported on the target
  #checkov:skip=CKV2_AWS_62:no consumer for events on log objects; logs are read in batch (Athena) when needed
  bucket        = local.access_logs_bucket
  force_destroy = var.force_destroy

  tags = merge(var.tags, { Name = local.access_logs_bucket, Role = "access-logs" })
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  bucket                  = aws_s3_bucket.access_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  versioning_configuration {
    status = "Enabled"
  }
}

# SSE-S3: the S3 log-delivery service writes to the target bucket with its own credentials and
# supports only SSE-S3 default encryption there (an SSE-KMS default makes deliveries fail).
resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}
