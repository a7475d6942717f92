/** ECR Public exists only in us-east-1, so the control plane, and publishing, live there. */
export const HOME_REGION = "us-east-1";
