#!/usr/bin/env bun
/**
 * The CDK app (cdk.json "app"): the control plane stack, checked by cdk-nag's
 * AwsSolutions rules and CloudFormation validation during synthesis.
 */
import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { readSettings, SettingsError } from "./settings.ts";
import { ImagesStack } from "./stack.ts";

/** Builds the app; tests call this with their own context. */
export function buildApp(app: App = new App()): { app: App; stack: ImagesStack } {
	const settings = readSettings((key) => app.node.tryGetContext(key), {
		keys: Object.keys(app.node.getAllContext()),
	});
	Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
	const stack = new ImagesStack(app, settings);
	return { app, stack };
}

if (import.meta.main) {
	try {
		buildApp().app.synth();
	} catch (error) {
		if (!(error instanceof SettingsError)) throw error;
		console.error(`error: ${error.message}`);
		process.exit(2);
	}
}
