# Per-prefix IAM policies, to attach to the platform's roles (IRSA / EKS Pod Identity roles, the EMR
# job execution role, ClickHouse Cloud's access role). KMS use is limited to S3 (kms:ViaService):
# the roles can use the CMK only for these buckets' objects.

locals {
  landing_arn   = aws_s3_bucket.data["landing"].arn
  lake_arn      = aws_s3_bucket.data["lake"].arn
  artifacts_arn = aws_s3_bucket.data["artifacts"].arn
  kms_via_s3    = "s3.${local.region}.amazonaws.com"
}

# landing_writer: the SDK edge and the cost loaders; may only add objects under events/ and cost/
data "aws_iam_policy_document" "landing_writer" {
  statement {
    sid = "PutLandingObjects"
    actions = [
      "s3:PutObject",
      "s3:AbortMultipartUpload",
    ]
    resources = [
      "${local.landing_arn}/events/*",
      "${local.landing_arn}/cost/*",
    ]
  }

  statement {
    sid = "EncryptWithTheLakeKey"
    # GenerateDataKey to encrypt; Decrypt because multipart uploads under SSE-KMS need it to complete
    actions = [
      "kms:GenerateDataKey",
      "kms:Decrypt",
    ]
    resources = [aws_kms_key.this.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.kms_via_s3]
    }
  }
}

# pipeline: Dagster runs and Spark jobs; read the landing zone, read/write/delete the whole lake bucket
data "aws_iam_policy_document" "pipeline" {
  statement {
    sid = "ListBuckets"
    actions = [
      "s3:ListBucket",
      "s3:GetBucketLocation",
      "s3:ListBucketMultipartUploads",
    ]
    resources = [
      local.landing_arn,
      local.lake_arn,
    ]
  }

  statement {
    sid       = "ReadLanding"
    actions   = ["s3:GetObject"]
    resources = ["${local.landing_arn}/*"]
  }

  statement {
    sid = "ReadWriteDeleteLake"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = ["${local.lake_arn}/*"]
  }

  statement {
    sid = "UseTheLakeKey"
    actions = [
      "kms:Decrypt",
      "kms:GenerateDataKey",
      "kms:DescribeKey",
    ]
    resources = [aws_kms_key.this.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.kms_via_s3]
    }
  }
}

# lake_reader: Feast (offline source), ClickHouse's deltaLake() reads, analysts; the Delta tables only
data "aws_iam_policy_document" "lake_reader" {
  statement {
    sid       = "LocateLakeBucket"
    actions   = ["s3:GetBucketLocation"]
    resources = [local.lake_arn]
  }

  statement {
    sid       = "ListLakeTables"
    actions   = ["s3:ListBucket"]
    resources = [local.lake_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values = [
        var.lake_prefix,
        "${var.lake_prefix}/*",
      ]
    }
  }

  statement {
    sid       = "ReadLakeTables"
    actions   = ["s3:GetObject"]
    resources = ["${local.lake_arn}/${var.lake_prefix}/*"]
  }

  statement {
    sid = "DecryptWithTheLakeKey"
    # read-only: Decrypt (and DescribeKey); no GenerateDataKey, which only serves writes
    actions = [
      "kms:Decrypt",
      "kms:DescribeKey",
    ]
    resources = [aws_kms_key.this.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.kms_via_s3]
    }
  }
}

# mlflow_artifacts: the MLflow tracking server (proxied artifacts) and the training runs
data "aws_iam_policy_document" "mlflow_artifacts" {
  statement {
    sid = "ListArtifactsBucket"
    actions = [
      "s3:ListBucket",
      "s3:GetBucketLocation",
      "s3:ListBucketMultipartUploads",
    ]
    resources = [local.artifacts_arn]
  }

  statement {
    sid = "ReadWriteArtifacts"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = ["${local.artifacts_arn}/*"]
  }

  statement {
    sid = "UseTheLakeKey"
    actions = [
      "kms:Decrypt",
      "kms:GenerateDataKey",
      "kms:DescribeKey",
    ]
    resources = [aws_kms_key.this.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.kms_via_s3]
    }
  }
}

locals {
  policy_documents = {
    landing_writer   = { doc = data.aws_iam_policy_document.landing_writer.json, what = "put objects under events/ and cost/ of the landing bucket" }
    pipeline         = { doc = data.aws_iam_policy_document.pipeline.json, what = "read the landing bucket, read/write/delete the lake bucket" }
    lake_reader      = { doc = data.aws_iam_policy_document.lake_reader.json, what = "read the Delta tables under the lake prefix" }
    mlflow_artifacts = { doc = data.aws_iam_policy_document.mlflow_artifacts.json, what = "read/write/delete MLflow artifacts" }
  }
}

resource "aws_iam_policy" "this" {
  for_each = local.policy_documents

  name        = "${var.name}-${replace(each.key, "_", "-")}"
  description = "${var.name}: ${each.value.what}"
  policy      = each.value.doc

  tags = var.tags
}
